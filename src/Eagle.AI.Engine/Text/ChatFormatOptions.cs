namespace Eagle.AI.Engine.Text;

/// <summary>The template variables of the official chat templates, with their defaults.</summary>
public sealed record ChatFormatOptions
{
    /// <summary>The 3.1 template's default <c>date_string</c>.</summary>
    public const string DefaultDateString = "26 Jul 2024";

    /// <summary>Options with every default.</summary>
    public static ChatFormatOptions Default { get; } = new();

    /// <summary>Which template to reproduce; 3.1 by default.</summary>
    public ChatFormatVersion Version { get; init; } = ChatFormatVersion.Llama31;

    /// <summary>3.1 only: the <c>Today Date:</c> line (<c>date_string</c>).</summary>
    public string DateString { get; init; } = DefaultDateString;

    /// <summary>3.1 only: put tool definitions in the first user message (true, the template's default) or in the system message.</summary>
    public bool ToolsInUserMessage { get; init; } = true;

    /// <summary>End with an open assistant header so the model answers (<c>add_generation_prompt</c>).</summary>
    public bool AddGenerationPrompt { get; init; } = true;
}
