using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Eagle.AI.Engine.Text;

/// <summary>
/// The LLaMA-3 tokenizer: tiktoken byte-level BPE over 128000 ranks plus 256 special tokens (ids 128000-128255).
/// <see cref="Encode"/> treats its input as plain text, so special-token strings in user content can never become
/// special ids; the chat format inserts those ids itself. Instances are immutable and safe to share between threads.
/// </summary>
public sealed class Llama3Tokenizer
{
    /// <summary>The LLaMA-3 pre-tokenizer regex (Meta's <c>pat_str</c>; the <c>Split</c> pattern in <c>tokenizer.json</c>).</summary>
    public const string PreTokenizerPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private readonly TiktokenTokenizer _plain;
    private readonly byte[][] _tokenBytes;
    private readonly string[] _specialNames;
    private readonly Dictionary<string, int> _specialIds;

    private Llama3Tokenizer(TiktokenTokenizer plain, byte[][] ranks, string[] specialNames, string sourcePath)
    {
        _plain = plain;
        _specialNames = specialNames;
        _specialIds = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < specialNames.Length; i++)
        {
            _specialIds.TryAdd(specialNames[i], Llama3SpecialTokens.BaseVocabularySize + i);
        }

        _tokenBytes = new byte[Llama3SpecialTokens.VocabularySize][];
        ranks.CopyTo(_tokenBytes, 0);
        for (int i = 0; i < specialNames.Length; i++)
        {
            _tokenBytes[Llama3SpecialTokens.BaseVocabularySize + i] = Encoding.UTF8.GetBytes(specialNames[i]);
        }
        SourcePath = sourcePath;
    }

    /// <summary>The file the ranks were read from (<c>tokenizer.model</c> or <c>tokenizer.json</c>).</summary>
    public string SourcePath { get; }

    /// <summary>Number of ids, ordinary and special (128256).</summary>
    public int VocabularySize => Llama3SpecialTokens.VocabularySize;

    /// <summary>The BOS id, <c>&lt;|begin_of_text|&gt;</c>.</summary>
    public int BosId => Llama3SpecialTokens.BeginOfText;

    /// <summary>The end-of-turn id, <c>&lt;|eot_id|&gt;</c>.</summary>
    public int EotId => Llama3SpecialTokens.EndOfTurn;

    /// <summary>The end-of-message id (3.1's <c>&lt;|eom_id|&gt;</c>; the same id is reserved in 3.0).</summary>
    public int EomId => Llama3SpecialTokens.EndOfMessage;

    /// <summary>The end-of-text id, <c>&lt;|end_of_text|&gt;</c>.</summary>
    public int EosId => Llama3SpecialTokens.EndOfText;

    /// <summary>Meta's stop set for instruct models: end-of-text, end-of-message and end-of-turn.</summary>
    public IReadOnlyList<int> StopIds { get; } =
        [Llama3SpecialTokens.EndOfText, Llama3SpecialTokens.EndOfMessage, Llama3SpecialTokens.EndOfTurn];

    /// <summary>Names of the 256 special tokens; index 0 is id 128000.</summary>
    public IReadOnlyList<string> SpecialTokenNames => _specialNames;

    /// <summary>
    /// Finds the tokenizer file of a model folder: <c>original/tokenizer.model</c>, else <c>tokenizer.json</c>,
    /// else a top-level <c>tokenizer.model</c> (Meta's own download layout).
    /// </summary>
    /// <param name="modelFolder">A model folder.</param>
    /// <returns>The file's path, or null when the folder holds none.</returns>
    public static string? TryFind(string modelFolder)
    {
        string[] candidates =
        [
            Path.Combine(modelFolder, "original", "tokenizer.model"),
            Path.Combine(modelFolder, "tokenizer.json"),
            Path.Combine(modelFolder, "tokenizer.model"),
        ];
        return candidates.FirstOrDefault(File.Exists);
    }

    /// <summary>
    /// Loads the tokenizer from a model folder (see <see cref="TryFind"/>) or a file: a <c>.json</c> file is read as
    /// Hugging Face <c>tokenizer.json</c>, anything else as tiktoken ranks. Special-token names come from a
    /// <c>tokenizer.json</c> next to the ranks file (or one folder up from <c>original/</c>); without one, the
    /// LLaMA-3.1 names are used.
    /// </summary>
    /// <param name="path">A model folder or a tokenizer file.</param>
    /// <exception cref="FileNotFoundException">No tokenizer file was found.</exception>
    /// <exception cref="InvalidDataException">The file is not a LLaMA-3 tokenizer.</exception>
    public static Llama3Tokenizer Load(string path)
    {
        string file = Directory.Exists(path)
            ? TryFind(path) ?? throw new FileNotFoundException(
                $"No tokenizer in '{path}': expected original/tokenizer.model, tokenizer.json or tokenizer.model.", path)
            : File.Exists(path) ? path : throw new FileNotFoundException($"Tokenizer file or folder '{path}' not found.", path);

        if (file.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            var contents = TokenizerJsonFile.Read(file);
            return Create(contents.TokenBytes, TiktokenFile.Write(contents.TokenBytes), contents.SpecialNames, file);
        }

        string? namesFile = FindSiblingTokenizerJson(file);
        string[] names = namesFile is null
            ? Enumerable.Range(Llama3SpecialTokens.BaseVocabularySize, Llama3SpecialTokens.Count).Select(Llama3SpecialTokens.DefaultName).ToArray()
            : TokenizerJsonFile.ReadSpecialNames(namesFile);
        byte[] content = File.ReadAllBytes(file);
        return Create(TiktokenFile.Read(content, file), content, names, file);
    }

    /// <summary>Encodes plain text: no BOS, and special-token strings are encoded as ordinary text.</summary>
    /// <param name="text">Any text.</param>
    /// <returns>Ids, all below 128000.</returns>
    public int[] Encode(string text) => text.Length == 0 ? [] : [.. _plain.EncodeToIds(text)];

    /// <summary>Decodes ids to text; an incomplete or invalid UTF-8 sequence becomes U+FFFD.</summary>
    /// <param name="ids">Token ids.</param>
    /// <param name="includeSpecialTokens">Whether special ids appear as their names; otherwise they are skipped.</param>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside the vocabulary.</exception>
    public string Decode(IEnumerable<int> ids, bool includeSpecialTokens = false)
    {
        var bytes = new ArrayBufferWriter<byte>();
        foreach (int id in ids)
        {
            if (includeSpecialTokens || !IsSpecial(id))
            {
                bytes.Write(GetTokenBytes(id));
            }
        }
        return Encoding.UTF8.GetString(bytes.WrittenSpan);
    }

    /// <summary>
    /// The raw bytes of one token. A multi-byte character may be split across tokens, so a single token's bytes need
    /// not be valid UTF-8. For a special id these are the UTF-8 bytes of its name.
    /// </summary>
    /// <param name="id">A token id.</param>
    /// <exception cref="ArgumentOutOfRangeException">The id is outside the vocabulary.</exception>
    public ReadOnlySpan<byte> GetTokenBytes(int id) =>
        (uint)id < (uint)_tokenBytes.Length
            ? _tokenBytes[id]
            : throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id must be in [0, {_tokenBytes.Length}).");

    /// <summary>Returns true when <paramref name="id"/> is a special token (128000-128255).</summary>
    /// <param name="id">A token id.</param>
    public bool IsSpecial(int id) => Llama3SpecialTokens.IsSpecial(id);

    /// <summary>Looks up a special token by its exact name, e.g. <c>&lt;|eot_id|&gt;</c>.</summary>
    /// <param name="name">The special token's name.</param>
    /// <param name="id">Its id when found.</param>
    public bool TryGetSpecialId(string name, out int id) => _specialIds.TryGetValue(name, out id);

    /// <summary>The name of a special id.</summary>
    /// <param name="id">A special id, 128000-128255.</param>
    /// <exception cref="ArgumentOutOfRangeException">The id is not special.</exception>
    public string GetSpecialName(int id) =>
        IsSpecial(id)
            ? _specialNames[id - Llama3SpecialTokens.BaseVocabularySize]
            : throw new ArgumentOutOfRangeException(nameof(id), id, "Not a special token id.");

    private static Llama3Tokenizer Create(byte[][] ranks, byte[] tiktokenFile, string[] specialNames, string file)
    {
        // No special tokens and a regex without them: '<|eot_id|>' in text splits like any other punctuation.
        var preTokenizer = new RegexPreTokenizer(new Regex(PreTokenizerPattern, RegexOptions.Compiled | RegexOptions.CultureInvariant), null);
        var plain = TiktokenTokenizer.Create(new MemoryStream(tiktokenFile, writable: false), preTokenizer, normalizer: null, specialTokens: null);
        return new Llama3Tokenizer(plain, ranks, specialNames, file);
    }

    private static string? FindSiblingTokenizerJson(string rankFile)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(rankFile))!;
        string beside = Path.Combine(folder, "tokenizer.json");
        if (File.Exists(beside))
        {
            return beside;
        }
        // HF snapshots keep Meta's files in original/, next to the HF tokenizer.json one level up.
        string above = Path.Combine(Path.GetDirectoryName(folder) ?? folder, "tokenizer.json");
        return Path.GetFileName(folder) == "original" && File.Exists(above) ? above : null;
    }
}
