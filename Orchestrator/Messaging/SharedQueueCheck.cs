using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>
/// Before the bus starts: each shared queue that exists already (<see cref="SharedQueues.Names"/>) is declared again with the
/// arguments of <see cref="BrokerOptions.QueueType"/>. The broker refuses a queue made with another type (PRECONDITION_FAILED,
/// inequivalent arg 'x-queue-type'), and the orchestrator then stops with <see cref="SharedQueueMismatchException"/> instead of
/// consuming nothing. Queues that do not exist yet are left for MassTransit to make.
/// </summary>
public sealed class SharedQueueCheck(Uri broker, SharedQueues queues, ILogger<SharedQueueCheck> logger) : IHostedService
{
    private const ushort NotFound = 404;
    private const ushort PreconditionFailed = 406;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var retry = BrokerStartupRetry.For(logger, "Checking the shared queues", ex => ex is SharedQueueMismatchException);
        await retry.ExecuteAsync(CheckAsync, cancellationToken);
    }

    private async ValueTask CheckAsync(CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory { Uri = broker, ClientProvidedName = "openhvx-orchestrator-queue-check" };
        await using var connection = await factory.CreateConnectionAsync(cancellationToken);
        foreach (var queue in SharedQueues.Names)
        {
            // A refused declaration closes its channel: one channel per queue.
            await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
            try
            {
                await channel.QueueDeclarePassiveAsync(queue, cancellationToken);
            }
            catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == NotFound)
            {
                continue;
            }
            try
            {
                await queues.DeclareAsync(channel, queue, cancellationToken);
            }
            catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == PreconditionFailed)
            {
                throw new SharedQueueMismatchException(queue, factory.VirtualHost, queues.Type, ex.ShutdownReason.ReplyText);
            }
        }
        logger.LogInformation("Shared queues: {QueueType}", queues.Type.ToString().ToLowerInvariant());
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
