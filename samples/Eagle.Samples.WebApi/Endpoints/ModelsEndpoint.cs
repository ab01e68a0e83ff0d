using Eagle.Samples.WebApi.Contracts;
using Eagle.Samples.WebApi.Mapping;
using Microsoft.AspNetCore.Mvc;

namespace Eagle.Samples.WebApi.Endpoints;

/// <summary><c>GET /v1/models</c> and <c>GET /v1/models/{id}</c>: the one served model.</summary>
internal static class ModelsEndpoint
{
    public static void MapModels(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/models", ([FromServices] ServedModel served) =>
            TypedResults.Json(new ModelList { Data = [Card(served)] }, OpenAIJsonContext.Default.ModelList));
        app.MapGet("/v1/models/{id}", async (HttpContext context, string id, [FromServices] ServedModel served) =>
        {
            if (id == served.Id)
                await context.Response.WriteAsJsonAsync(Card(served), OpenAIJsonContext.Default.ModelCard, contentType: null, context.RequestAborted)
                    .ConfigureAwait(false);
            else
                await ErrorWriter.WriteAsync(context.Response, RequestError.ModelNotFound(id, served.Id)).ConfigureAwait(false);
        });
    }

    private static ModelCard Card(ServedModel served) => new() { Id = served.Id, Created = served.Created };
}
