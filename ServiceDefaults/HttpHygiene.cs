using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using OpenHvx.Contracts;

namespace OpenHvx.ServiceDefaults;

/// <summary>What every service does with a request before its endpoints see it, and with an error answer after.</summary>
public static class HttpHygiene
{
    /// <summary>
    /// Every error answer is a problem with a code: a request the server could not read gets its 4xx (never a 500),
    /// any other exception a logged 500, and an empty error answer (routing's 404 and 405) a body; request headers
    /// with bytes outside printable ASCII are refused (400 <c>ERR_BAD_HEADER</c>) before anything forwards them.
    /// </summary>
    public static IApplicationBuilder UseProblemAnswers(this IApplicationBuilder app)
    {
        app.UseExceptionHandler(errors => errors.Run(http =>
        {
            var error = http.Features.Get<IExceptionHandlerFeature>()?.Error;
            var (status, code, detail) = error switch
            {
                BadHttpRequestException bad => (bad.StatusCode, bad.StatusCode == StatusCodes.Status400BadRequest ? ErrorCodes.BadEnvelope : Problems.CodeOf(bad.StatusCode), bad.Message),
                Microsoft.AspNetCore.Connections.ConnectionResetException => (StatusCodes.Status400BadRequest, ErrorCodes.BadRequest, "The connection was reset while the request was read."),
                // A form body that cannot be decoded (NUL, invalid percent-encoding), found by whoever reads the form first.
                InvalidDataException => (StatusCodes.Status400BadRequest, ErrorCodes.BadRequest, "The form body could not be decoded."),
                _ => (StatusCodes.Status500InternalServerError, ErrorCodes.Internal, "An unexpected error occurred; it was logged."),
            };
            return Problems.WriteAsync(http, code, detail, status);
        }));
        app.UseStatusCodePages(context =>
        {
            var http = context.HttpContext;
            var status = http.Response.StatusCode;
            var detail = status switch
            {
                StatusCodes.Status404NotFound => "Nothing is served at this path.",
                StatusCodes.Status405MethodNotAllowed => $"{http.Request.Method} is not allowed at this path.",
                _ => "The request was refused.",
            };
            return Problems.WriteAsync(http, Problems.CodeOf(status), detail, status);
        });
        app.Use((http, next) =>
        {
            foreach (var (name, values) in http.Request.Headers)
            {
                foreach (var value in values)
                {
                    if (value is not null && !IsPrintableAscii(value))
                        return Problems.WriteAsync(http, ErrorCodes.BadHeader, $"Header '{Sanitized(name)}' has characters outside printable ASCII.");
                }
            }
            return next(http);
        });
        return app;
    }

    private static bool IsPrintableAscii(string value)
    {
        foreach (var c in value)
        {
            if (c is < ' ' or > '~' && c != '\t')
                return false;
        }
        return true;
    }

    private static string Sanitized(string name) => IsPrintableAscii(name) && name.Length <= 64 ? name : "(unprintable)";
}
