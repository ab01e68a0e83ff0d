using System.Net;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Eagle.Samples.Tests;

/// <summary><c>GET /v1/models</c>, <c>GET /v1/models/{id}</c> and <c>/health</c>.</summary>
public sealed class ModelsAndHealthTests(ScriptedServer server) : IClassFixture<ScriptedServer>
{
    [Fact]
    public async Task Models_ListsTheServedModel()
    {
        using var http = server.CreateClient();
        var body = await (await http.GetAsync("/v1/models")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("list", body.GetProperty("object").GetString());
        var model = Assert.Single(body.GetProperty("data").EnumerateArray());
        Assert.Equal(ScriptedChatClient.ModelId, model.GetProperty("id").GetString());
        Assert.Equal("model", model.GetProperty("object").GetString());
        Assert.Equal("eagle", model.GetProperty("owned_by").GetString());
        Assert.True(model.GetProperty("created").GetInt64() > 1_700_000_000);
    }

    [Fact]
    public async Task Model_ById_OrModelNotFound()
    {
        using var http = server.CreateClient();
        var model = await (await http.GetAsync("/v1/models/" + ScriptedChatClient.ModelId)).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(ScriptedChatClient.ModelId, model.GetProperty("id").GetString());
        var error = await (await http.GetAsync("/v1/models/gpt-4o")).ErrorAsync(HttpStatusCode.NotFound, "model");
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Health_IsHealthy()
    {
        using var http = server.CreateClient();
        var response = await http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Health_IsUnhealthy_WhenTheClientCannotBeCreated()
    {
        using var broken = server.WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
        {
            services.RemoveAll<IChatClient>();
            services.AddSingleton<IChatClient>(_ => throw new InvalidOperationException("No model in this folder."));
        }));
        using var http = broken.CreateClient();
        var response = await http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("Unhealthy", await response.Content.ReadAsStringAsync());
    }
}
