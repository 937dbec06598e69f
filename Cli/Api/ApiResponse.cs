using System.Text.Json;

namespace OpenHvx.Cli.Api;

/// <summary>A successful answer: its status, its body as sent (what <c>--output json</c> prints) and parsed.</summary>
public sealed record ApiResponse(int Status, string Raw, JsonElement Json);
