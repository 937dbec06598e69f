using System.Text;

namespace OpenHvx.Orchestrator.DeadLetters;

/// <summary>A dead letter as admins read it: the body as text when it is UTF-8, else in base64.</summary>
public sealed record DeadLetterView(
    Guid Id,
    string Queue,
    Guid? TaskId,
    string? RoutingKey,
    string? ContentType,
    string? Body,
    string? BodyBase64,
    string? SenderUser,
    string? Reason,
    string? ExceptionType,
    DateTimeOffset ReceivedAt,
    DateTimeOffset? ReplayedAt)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static DeadLetterView From(DeadLetter letter)
    {
        string? text;
        try
        {
            text = StrictUtf8.GetString(letter.Body);
        }
        catch (DecoderFallbackException)
        {
            text = null;
        }
        return new DeadLetterView(letter.Id, letter.Queue, letter.TaskId, letter.RoutingKey, letter.ContentType, text,
            text is null ? Convert.ToBase64String(letter.Body) : null, letter.SenderUser, letter.Reason, letter.ExceptionType, letter.ReceivedAt, letter.ReplayedAt);
    }
}
