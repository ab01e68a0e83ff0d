using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Eagle.Samples.WebApi.Endpoints;
using Eagle.Samples.WebApi.Mapping;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Eagle.Samples.WebApi.Security;

/// <summary>
/// <c>Authorization: Bearer KEY</c> against <see cref="ServerOptions.ApiKeys"/>, the way OpenAI clients send their key.
/// With no keys configured every caller is let in (as an anonymous client). The caller's name is the key's position in
/// the list (<c>key-0</c>, …), never the key, so it can partition rate limits and appear in logs.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    IOptions<ServerOptions> server)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string Anonymous = "anonymous";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var keys = server.Value.ApiKeys;
        if (keys.Count == 0) return Task.FromResult(Success(Anonymous));

        string? header = Request.Headers.Authorization;
        if (header is null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return Task.FromResult(AuthenticateResult.NoResult());
        // Hashing both sides first makes the comparison constant-time in the key's length too.
        byte[] sent = SHA256.HashData(Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim()));
        int match = -1;
        for (int i = 0; i < keys.Count; i++)
        {
            if (CryptographicOperations.FixedTimeEquals(sent, SHA256.HashData(Encoding.UTF8.GetBytes(keys[i]))))
                match = i;
        }
        return Task.FromResult(match >= 0 ? Success($"key-{match}") : AuthenticateResult.Fail("Incorrect API key."));
    }

    /// <summary>OpenAI's 401: an <c>invalid_api_key</c> error body instead of an empty response.</summary>
    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        bool sentOne = Request.Headers.Authorization.Count > 0;
        string message = sentOne
            ? "Incorrect API key provided. Send one of the server's keys (Server:ApiKeys) as 'Authorization: Bearer KEY'."
            : "You didn't provide an API key. Send it in an Authorization header using Bearer auth (i.e. 'Authorization: Bearer KEY').";
        return ErrorWriter.WriteAsync(Response, new RequestError(StatusCodes.Status401Unauthorized, message, null, "invalid_api_key"));
    }

    private AuthenticateResult Success(string name) =>
        AuthenticateResult.Success(new AuthenticationTicket(
            new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, name)], SchemeName)), SchemeName));
}
