using OpenHvx.ServiceDefaults.OpenApi;
using MassTransit;
using MassTransit.Configuration;
using MassTransit.Saga;
using OpenHvx.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Api;
using OpenHvx.Orchestrator.Events;
using OpenHvx.Orchestrator.Images;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Persistence.Mongo;
using OpenHvx.Orchestrator.Persistence.Sqlite;
using OpenHvx.Orchestrator.Tasks.Pipeline;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Orchestrator.Security;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Orchestrator.Tenants;
using OpenHvx.Orchestrator.Webhooks;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator;

public static class OrchestratorExtensions
{
    /// <summary>The health check of the task store, SQLite or MongoDB.</summary>
    public const string StoreHealthCheck = "store";

    /// <summary>Options, storage (SQLite), task actions, the saga's collaborators and the deadline sweeper.</summary>
    public static IServiceCollection AddOrchestrator(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<OrchestratorOptions>()
            .Bind(configuration.GetSection(OrchestratorOptions.Section))
            .PostConfigure(options =>
            {
                if (configuration["OPENHVX_DB"] is { Length: > 0 } db)
                    options.Database = db;
            });
        services.TryAddSingleton(TimeProvider.System);
        services.AddApiDocument(document => document.AddDocumentTransformer<Api.TaskRequestSchemas>());
        var database = configuration["OPENHVX_DB"] is { Length: > 0 } db ? db : configuration[$"{OrchestratorOptions.Section}:Database"];
        if (MongoStorage.IsMongoUrl(database))
            services.AddMongoStorage(database!);
        else
            services.AddSqliteStorage();

        services.AddSingleton<ITaskAction, VmCreateAction>();
        services.AddSingleton<ITaskAction, VmDeleteAction>();
        services.AddSingleton<ITaskAction, VmEditAction>();
        services.AddSingleton<ITaskAction, VmPowerAction>();
        services.AddSingleton<ITaskAction, InventoryRefreshAction>();
        services.AddSingleton<TaskActionCatalog>();
        services.AddSingleton<TaskLifecycle>();
        services.AddMetrics();
        services.AddSingleton<Telemetry.OrchestratorMetrics>();
        services.AddSingleton<Telemetry.TaskTransitionMetrics>();
        services.AddHostedService<Telemetry.OrchestratorMetricsSampler>();
        services.AddSingleton<Events.TaskEventSignal>();
        services.AddSingleton<Events.TaskEventStreams>();
        services.AddSingleton<QuotaLedger>();
        services.AddSingleton<InventoryReconciler>();
        services.TryAddSingleton<IResourceEventPublisher, BusResourceEventPublisher>();
        services.AddSingleton<ValidateStep>();
        services.AddSingleton<AgentRegistryCache>();
        services.AddSingleton<ElectStep>();
        services.AddSingleton<EnrichStep>();
        services.AddSingleton<HoldQuotaStep>();
        services.AddSingleton<DispatchStep>();
        services.AddSingleton<TaskPipeline>();
        services.AddSingleton<RunPipelineActivity>();
        services.AddSingleton<ReplaceUnpickedTaskActivity>();
        services.TryAddSingleton<IAgentTaskSender, QueueAgentTaskSender>();
        services.TryAddSingleton<IAgentControlSender, QueueAgentControlSender>();
        services.AddSingleton<CancelTaskActivity>();
        services.TryAddSingleton<ITaskEventPublisher, BusTaskEventPublisher>();
        services.AddSingleton<AgentOutboxRelay>();
        services.AddSingleton<Messaging.AgentBrokerIdentity>();
        services.AddSingleton<Messaging.AgentMessageCheck>();
        services.AddSingleton<DeadLetters.DeadLetterReplay>();
        // Before the jobs that ask it: hosted services stop in reverse order, so it gives the leases up after they have stopped.
        services.AddHostedService(sp => sp.GetRequiredService<Cluster.JobLeaseKeeper>());
        services.AddHostedService(sp => sp.GetRequiredService<AgentOutboxRelay>());
        services.AddSingleton<Cluster.OrchestratorInstance>();
        services.AddSingleton<Cluster.JobLeaseKeeper>();
        services.AddSingleton<TaskAnswers>();
        services.AddScoped<TaskSubmission>();
        services.AddScoped<TaskRetry>();
        services.AddScoped<TaskCancellation>();
        services.AddHostedService<SeedData>();
        services.AddHostedService<TaskDeadlineSweeper>();
        services.AddHostedService<Retention.RetentionSweeper>();
        services.AddWebhooks(configuration);

        services.AddOrchestratorSecurity(configuration);
        return services;
    }

    /// <summary>The embedded default: one SQLite file (Orchestrator:Database or OPENHVX_DB).</summary>
    private static void AddSqliteStorage(this IServiceCollection services)
    {
        services.AddSingleton(sp => new SqliteDatabase(sp.GetRequiredService<IOptions<OrchestratorOptions>>().Value.Database,
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<SqliteDatabase>>()));
        services.AddSingleton<IStoreTransactions>(sp => sp.GetRequiredService<SqliteDatabase>());
        services.AddSingleton<ITaskStore, SqliteTaskStore>();
        services.AddSingleton<IAgentOutbox, SqliteAgentOutbox>();
        services.AddSingleton<ITenantStore, SqliteTenantStore>();
        services.AddSingleton<IQuotaStore, SqliteQuotaStore>();
        services.AddSingleton<IAgentStore, SqliteAgentStore>();
        services.AddSingleton<IImageStore, SqliteImageStore>();
        services.AddSingleton<IResourceStore, SqliteResourceStore>();
        services.AddSingleton<IIdempotencyStore, SqliteIdempotencyStore>();
        services.AddSingleton<DeadLetters.IDeadLetterStore, SqliteDeadLetterStore>();
        services.AddSingleton<Events.ITaskEventLog, SqliteTaskEventLog>();
        services.AddSingleton<IWebhookStore, SqliteWebhookStore>();
        services.AddSingleton<IJobLeases, SqliteJobLeases>();
        services.AddSingleton<Retention.IRetentionStore, SqliteRetentionStore>();
        services.AddHealthChecks().AddCheck<SqliteHealthCheck>(StoreHealthCheck, tags: [ServiceDefaultsExtensions.ReadyTag], timeout: TimeSpan.FromSeconds(5));
    }

    /// <summary>Production: MongoDB (a replica set, for the transactions of quota holds and elections).</summary>
    private static void AddMongoStorage(this IServiceCollection services, string url)
    {
        services.AddSingleton(new MongoStorage(url));
        services.AddSingleton<IStoreTransactions>(sp => sp.GetRequiredService<MongoStorage>());
        services.AddSingleton<IAgentOutbox, MongoAgentOutbox>();
        services.AddHostedService<MongoSchemaInitializer>();
        services.AddSingleton<ITaskStore, MongoTaskStore>();
        services.AddSingleton<ITenantStore, MongoTenantStore>();
        services.AddSingleton<IQuotaStore, MongoQuotaStore>();
        services.AddSingleton<IAgentStore, MongoAgentStore>();
        services.AddSingleton<IImageStore, MongoImageStore>();
        services.AddSingleton<IResourceStore, MongoResourceStore>();
        services.AddSingleton<IIdempotencyStore, MongoIdempotencyStore>();
        services.AddSingleton<DeadLetters.IDeadLetterStore, MongoDeadLetterStore>();
        services.AddSingleton<Events.ITaskEventLog, MongoTaskEventLog>();
        services.AddSingleton<IWebhookStore, MongoWebhookStore>();
        services.AddSingleton<IJobLeases, MongoJobLeases>();
        services.AddSingleton<Retention.IRetentionStore, MongoRetentionStore>();
        services.AddHealthChecks().AddCheck<MongoHealthCheck>(StoreHealthCheck, tags: [ServiceDefaultsExtensions.ReadyTag], timeout: TimeSpan.FromSeconds(5));
    }

    /// <summary>The task saga, its step consumers and the heartbeat consumer, on whatever transport the host picks.</summary>
    /// <param name="bus">the bus registration</param>
    /// <param name="telemetryOnWire">true on RabbitMQ, where heartbeats arrive as plain JSON on their own queue</param>
    public static IBusRegistrationConfigurator AddOrchestratorConsumers(this IBusRegistrationConfigurator bus, bool telemetryOnWire = false)
    {
        bus.SetKebabCaseEndpointNameFormatter();
        bus.AddSagaStateMachine<TaskStateMachine, TaskState, TaskStateDefinition>()
            .Repository(r =>
            {
                r.RegisterLoadSagaRepository<TaskState, TaskSagaRepositoryContextFactory>();
                r.RegisterQuerySagaRepository<TaskState, TaskSagaRepositoryContextFactory>();
                r.RegisterSagaRepository<TaskState, ITaskStore, SagaConsumeContextFactory<ITaskStore, TaskState>,
                    TaskSagaRepositoryContextFactory>();
            });

        if (!telemetryOnWire)
        {
            bus.AddConsumer<AgentHeartbeatConsumer>();
            bus.AddConsumer<AgentInventoryConsumer>();
        }
        bus.AddRequestClient<SubmitTask>();
        bus.AddRequestClient<CancelTask>();
        return bus;
    }

    /// <summary>The orchestrator's HTTP API (health and metrics: <see cref="ServiceDefaultsExtensions.MapDefaultEndpoints"/>).</summary>
    public static IEndpointRouteBuilder MapOrchestratorApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api/v1/admin").RequireAuthorization(OrchestratorPolicies.Admin);
        admin.MapAdminTaskEndpoints();
        admin.MapAdminTenantEndpoints();
        admin.MapAdminQuotaEndpoints();
        admin.MapAdminImageEndpoints();
        admin.MapAdminResourceEndpoints();
        admin.MapAdminAgentEndpoints();
        admin.MapAdminUnmanagedVmEndpoints();
        DeadLetters.DeadLetterEndpoints.MapAdminDeadLetterEndpoints(admin);
        admin.MapAdminTaskEventEndpoints();
        admin.MapAdminWebhookEndpoints();

        // Every tenant route reads; writes add the write policy on the route itself.
        var tenant = app.MapGroup("/api/v1/tenant").RequireAuthorization(OrchestratorPolicies.TenantRead).AddEndpointFilter<ActiveTenantFilter>();
        tenant.MapTenantTaskEndpoints();
        tenant.MapTenantQuotaEndpoints();
        tenant.MapTenantImageEndpoints();
        tenant.MapTenantResourceEndpoints();
        tenant.MapTenantTaskEventEndpoints();
        tenant.MapTenantWebhookEndpoints();

        app.MapApiDocument();
        return app;
    }

    /// <summary>The service defaults (problem answers, one log line per request), then token validation.</summary>
    public static WebApplication UseOrchestratorPipeline(this WebApplication app, ServiceProfile profile)
    {
        app.UseServiceDefaults(profile);
        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }
}

/// <summary>Ready while MongoDB takes a write (majority write concern), not merely answers a ping.</summary>
internal sealed class MongoHealthCheck(MongoStorage storage) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await storage.ProbeWriteAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex)
        {
            return HealthCheckResult.Unhealthy($"MongoDB refuses writes: {ex.Message}", ex);
        }
    }
}

/// <summary>Ready while the SQLite file takes a write (<see cref="SqliteDatabase.ProbeWriteAsync"/>), not merely a read.</summary>
internal sealed class SqliteHealthCheck(SqliteDatabase database) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await database.ProbeWriteAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex)
        {
            var cause = ex is Microsoft.Data.Sqlite.SqliteException sqlite ? SqliteFaultLog.Cause(sqlite) : ex.Message;
            return HealthCheckResult.Unhealthy($"SQLite database {database.FilePath} refuses writes: {cause}", ex);
        }
    }
}
