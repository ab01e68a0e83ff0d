using Eagle.Samples.WebApi.Contracts;
using Eagle.Samples.WebApi.Mapping;
using Microsoft.AspNetCore.Mvc;

namespace Eagle.Samples.WebApi.Endpoints;

/// <summary><c>GET /v1/models</c> and <c>GET /v1/models/{id}</c>: the one served model (a 503 when it failed to load).</summary>
internal static class ModelsEndpoint
{
    public static RouteGroupBuilder MapModels(this IEndpointRouteBuilder app)
    {
        var models = app.MapGroup("/v1/models");
        models.MapGet("", (HttpContext context, [FromServices] ServedModel served) =>
            AnswerAsync(context, served, card => context.Response.WriteAsJsonAsync(new ModelList { Data = [card] }, OpenAIJsonContext.Default.ModelList,
                contentType: null, context.RequestAborted)));
        models.MapGet("/{id}", (HttpContext context, string id, [FromServices] ServedModel served) =>
            AnswerAsync(context, served, card => id == card.Id
                ? context.Response.WriteAsJsonAsync(card, OpenAIJsonContext.Default.ModelCard, contentType: null, context.RequestAborted)
                : ErrorWriter.WriteAsync(context.Response, RequestError.ModelNotFound(id, card.Id))));
        return models;
    }

    private static Task AnswerAsync(HttpContext context, ServedModel served, Func<ModelCard, Task> answer)
    {
        ModelCard card;
        try
        {
            card = new() { Id = served.Id, Created = served.Created };
        }
        catch (RequestError error)
        {
            return ErrorWriter.WriteAsync(context.Response, error);
        }
        return answer(card);
    }
}
