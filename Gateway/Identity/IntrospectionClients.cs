using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;
using Oidc = OpenIddict.Abstractions.OpenIddictConstants;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// Introspection (RFC 7662) answers confidential clients only. OpenIddict takes anonymous requests wherever anonymous clients are
/// accepted (they are, for api.md's password grant without client_id), and from public clients: either would tell anyone what a
/// token says.
/// </summary>
public sealed class IntrospectionClients : IOpenIddictServerHandler<ValidateIntrospectionRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateIntrospectionRequestContext>()
        .UseSingletonHandler<IntrospectionClients>()
        .SetOrder(int.MinValue + 100_000)
        .SetType(OpenIddictServerHandlerType.Custom)
        .Build();

    public ValueTask HandleAsync(ValidateIntrospectionRequestContext context)
    {
        // A public client has no secret (and OpenIddict refuses one that sends one): a credential marks a confidential client.
        if (string.IsNullOrEmpty(context.ClientId) || (string.IsNullOrEmpty(context.Request.ClientSecret) && string.IsNullOrEmpty(context.Request.ClientAssertion)))
            context.Reject(Oidc.Errors.InvalidClient, "Introspection is for confidential clients: authenticate with client_id and client_secret.");
        return default;
    }
}
