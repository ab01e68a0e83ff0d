namespace Eagle.AI.Engine.Text;

/// <summary>Which official LLaMA-3 chat template to reproduce.</summary>
public enum ChatFormatVersion
{
    /// <summary>LLaMA-3.0 Instruct: plain turns, no system header, no tools.</summary>
    Llama30,

    /// <summary>LLaMA-3.1 Instruct: knowledge-date system header and JSON tool calling.</summary>
    Llama31,
}
