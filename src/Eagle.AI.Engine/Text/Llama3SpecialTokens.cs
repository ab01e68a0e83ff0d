namespace Eagle.AI.Engine.Text;

/// <summary>
/// The LLaMA-3 token layout: a 128000-entry byte-level BPE vocabulary followed by 256 special tokens.
/// The structural ids are fixed by Meta's release and are the same in LLaMA-3.0 and 3.1; only some names differ.
/// </summary>
public static class Llama3SpecialTokens
{
    /// <summary>Number of ordinary (byte-level BPE) tokens; special ids start here.</summary>
    public const int BaseVocabularySize = 128000;

    /// <summary>Number of special tokens.</summary>
    public const int Count = 256;

    /// <summary>Total number of ids: ordinary plus special.</summary>
    public const int VocabularySize = BaseVocabularySize + Count;

    /// <summary><c>&lt;|begin_of_text|&gt;</c>, the BOS token.</summary>
    public const int BeginOfText = 128000;

    /// <summary><c>&lt;|end_of_text|&gt;</c>, the EOS token of base models.</summary>
    public const int EndOfText = 128001;

    /// <summary><c>&lt;|start_header_id|&gt;</c>, opens a role header.</summary>
    public const int StartHeader = 128006;

    /// <summary><c>&lt;|end_header_id|&gt;</c>, closes a role header.</summary>
    public const int EndHeader = 128007;

    /// <summary><c>&lt;|eom_id|&gt;</c> (3.1), ends a message that waits for a tool result.</summary>
    public const int EndOfMessage = 128008;

    /// <summary><c>&lt;|eot_id|&gt;</c>, ends a turn.</summary>
    public const int EndOfTurn = 128009;

    /// <summary><c>&lt;|python_tag|&gt;</c> (3.1), starts a tool call or code.</summary>
    public const int PythonTag = 128010;

    /// <summary>Returns true when <paramref name="id"/> is one of the 256 special ids.</summary>
    /// <param name="id">A token id.</param>
    public static bool IsSpecial(int id) => id is >= BaseVocabularySize and < VocabularySize;

    /// <summary>
    /// The name Hugging Face's LLaMA-3.1 <c>tokenizer.json</c> gives a special id; used when only Meta's
    /// <c>tokenizer.model</c> is available, which carries ranks but no names.
    /// </summary>
    /// <param name="id">A special id, 128000 to 128255.</param>
    public static string DefaultName(int id) => id switch
    {
        BeginOfText => "<|begin_of_text|>",
        EndOfText => "<|end_of_text|>",
        128002 => "<|reserved_special_token_0|>",
        128003 => "<|reserved_special_token_1|>",
        128004 => "<|finetune_right_pad_id|>",
        128005 => "<|reserved_special_token_2|>",
        StartHeader => "<|start_header_id|>",
        EndHeader => "<|end_header_id|>",
        EndOfMessage => "<|eom_id|>",
        EndOfTurn => "<|eot_id|>",
        PythonTag => "<|python_tag|>",
        // 128011 is reserved_special_token_3: the three named ids above 128004 shift the numbering by 8.
        _ when IsSpecial(id) => $"<|reserved_special_token_{id - 128008}|>",
        _ => throw new ArgumentOutOfRangeException(nameof(id), id, "Not a LLaMA-3 special token id."),
    };
}
