using Eagle.AI.Engine.Text;

namespace Eagle.AI.Testing;

/// <summary>Puts the real LLaMA-3.1 tokenizer into a test model folder.</summary>
public static class TokenizerFiles
{
    /// <summary>
    /// Copies tokenizer.json and tokenizer_config.json from <see cref="TestRepository.TokenizerFolder"/> and adds
    /// <c>original/tokenizer.model</c> (tiktoken ranks, as Meta ships them): the loader prefers it and reads it several
    /// times faster, and every engine a test starts loads it.
    /// </summary>
    public static void CopyInto(string folder)
    {
        string source = TestRepository.TokenizerFolder;
        foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(source, file), Path.Combine(folder, file), overwrite: true);
        var tokenizer = Llama3Tokenizer.Load(Path.Combine(source, "tokenizer.json"));
        Directory.CreateDirectory(Path.Combine(folder, "original"));
        using var writer = new StreamWriter(Path.Combine(folder, "original", "tokenizer.model"));
        for (int id = 0; id < Llama3SpecialTokens.BaseVocabularySize; id++)
            writer.Write($"{Convert.ToBase64String(tokenizer.GetTokenBytes(id))} {id}\n");
    }
}
