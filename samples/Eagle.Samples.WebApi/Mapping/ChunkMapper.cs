using Eagle.Samples.WebApi.Contracts;
using Microsoft.Extensions.AI;

namespace Eagle.Samples.WebApi.Mapping;

/// <summary>
/// A stream of <see cref="ChatResponseUpdate"/>s → <c>chat.completion.chunk</c>s, in OpenAI's order: a first chunk with
/// the role, then text and tool-call deltas, then one chunk with the finish reason, then (when asked) one usage chunk
/// with no choices. One instance per response: it remembers the id, the tool-call count, the finish reason and the usage.
/// </summary>
internal sealed class ChunkMapper(string modelId, bool includeUsage)
{
    private string? id;
    private long created;
    private string model = modelId;
    private int toolCalls;
    private ChatFinishReason? finishReason;
    private UsageDetails? usage;

    /// <summary>The chunks one update becomes (none for an update with nothing to show, e.g. only usage).</summary>
    public IEnumerable<ChatCompletionChunk> Map(ChatResponseUpdate update)
    {
        if (id is null)
        {
            id = CompletionMapper.CompletionId(update.ResponseId);
            created = CompletionMapper.UnixSeconds(update.CreatedAt);
            model = update.ModelId ?? model;
            yield return Chunk(new ChunkDelta { Role = "assistant", Content = "" });
        }
        finishReason = update.FinishReason ?? finishReason;
        foreach (var content in update.Contents)
        {
            switch (content)
            {
                case TextContent { Text.Length: > 0 } text:
                    yield return Chunk(new ChunkDelta { Content = text.Text });
                    break;
                case FunctionCallContent call:
                    // Each call is sent whole, in one delta: the client sees its id, name and complete arguments at once.
                    var tool = CompletionMapper.ToToolCall(call);
                    yield return Chunk(new ChunkDelta { ToolCalls = [new ChunkToolCall { Index = toolCalls++, Id = tool.Id, Function = tool.Function }] });
                    break;
                case UsageContent u:
                    usage ??= new UsageDetails();
                    usage.Add(u.Details);
                    break;
            }
        }
    }

    /// <summary>The finishing chunk and, when asked, the usage chunk (also for a stream that yielded no update).</summary>
    public IEnumerable<ChatCompletionChunk> Complete()
    {
        if (id is null)
        {
            id = CompletionMapper.CompletionId(null);
            created = CompletionMapper.UnixSeconds(null);
            yield return Chunk(new ChunkDelta { Role = "assistant", Content = "" });
        }
        yield return Chunk(new ChunkDelta(), CompletionMapper.ToFinishReason(finishReason, toolCalls > 0));
        if (includeUsage)
            yield return new ChatCompletionChunk
            {
                Id = id, Created = created, Model = model, Choices = [], Usage = CompletionMapper.ToUsage(usage) ?? new CompletionUsage(),
            };
    }

    private ChatCompletionChunk Chunk(ChunkDelta delta, string? finish = null) => new()
    {
        Id = id!,
        Created = created,
        Model = model,
        Choices = [new ChunkChoice { Delta = delta, FinishReason = finish }],
    };
}
