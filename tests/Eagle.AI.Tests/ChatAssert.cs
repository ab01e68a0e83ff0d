using Microsoft.Extensions.AI;

namespace Eagle.AI.Tests;

/// <summary>Checks of the streaming contract every response must keep.</summary>
internal static class ChatAssert
{
    /// <summary>
    /// Same ids, assistant role, model id and creation time on every update; exactly one <see cref="UsageContent"/>, in the
    /// last update, which alone carries the finish reason.
    /// </summary>
    public static void StreamingContract(IReadOnlyList<ChatResponseUpdate> updates, string modelId)
    {
        Assert.NotEmpty(updates);
        var first = updates[0];
        Assert.False(string.IsNullOrEmpty(first.ResponseId));
        Assert.False(string.IsNullOrEmpty(first.MessageId));
        Assert.NotNull(first.CreatedAt);
        foreach (var u in updates)
        {
            Assert.Equal(first.ResponseId, u.ResponseId);
            Assert.Equal(first.MessageId, u.MessageId);
            Assert.Equal(ChatRole.Assistant, u.Role);
            Assert.Equal(modelId, u.ModelId);
            Assert.Equal(first.CreatedAt, u.CreatedAt);
        }
        Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>());
        Assert.Single(updates[^1].Contents.OfType<UsageContent>());
        Assert.NotNull(updates[^1].FinishReason);
        Assert.All(updates.Take(updates.Count - 1), u => Assert.Null(u.FinishReason));
    }

    /// <summary>The text of all updates, in order.</summary>
    public static string Text(IEnumerable<ChatResponseUpdate> updates) => string.Concat(updates.Select(u => u.Text));

    /// <summary>Reads a whole stream.</summary>
    public static async Task<List<ChatResponseUpdate>> ReadAll(IAsyncEnumerable<ChatResponseUpdate> stream)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in stream) updates.Add(u);
        return updates;
    }
}
