using Eagle.AI.Engine.Demo;

namespace Eagle.AI.Testing;

/// <summary>Puts the real LLaMA-3.1 tokenizer into a test model folder.</summary>
public static class TokenizerFiles
{
    /// <summary>The tokenizer files of <see cref="TestRepository.TokenizerFolder"/>, as <see cref="TinyChatRecipe.WriteTokenizer"/> writes them.</summary>
    public static void CopyInto(string folder) => TinyChatRecipe.WriteTokenizer(folder, TestRepository.TokenizerFolder);
}
