using Eagle.AI.Engine.Text;

namespace Eagle.AI.Engine.Tests.Text;

public class ChatFormatVersionDetectorTests
{
    [Fact]
    public void Llama3_rope_scaling_in_config_means_3_1()
    {
        using var folder = new TempFolder();
        folder.Write("config.json", "{\"rope_scaling\": {\"factor\": 8.0, \"rope_type\": \"llama3\"}, \"rope_theta\": 500000.0}");

        Assert.Equal(ChatFormatVersion.Llama31, ChatFormatVersionDetector.Detect(folder.Path));
    }

    [Fact]
    public void A_knowledge_date_in_the_chat_template_means_3_1()
    {
        using var folder = new TempFolder();
        folder.Write("config.json", "{\"rope_scaling\": null}");
        folder.Write("tokenizer_config.json", "{\"chat_template\": \"{{- 'Cutting Knowledge Date: December 2023' }}\"}");

        Assert.Equal(ChatFormatVersion.Llama31, ChatFormatVersionDetector.Detect(folder.Path));
    }

    [Fact]
    public void A_named_template_list_is_searched_too()
    {
        using var folder = new TempFolder();
        folder.Write("tokenizer_config.json", "{\"chat_template\": [{\"name\": \"default\", \"template\": \"Cutting Knowledge\"}]}");

        Assert.Equal(ChatFormatVersion.Llama31, ChatFormatVersionDetector.Detect(folder.Path));
    }

    [Fact]
    public void The_fetched_tokenizer_folder_has_the_3_0_template()
    {
        Assert.Equal(ChatFormatVersion.Llama30, ChatFormatVersionDetector.Detect(TextTestData.TokenizerFolder));
        Assert.Equal(ChatFormatVersion.Llama30, ChatFormatVersionDetector.Detect(Path.Combine(TextTestData.TokenizerFolder, "tokenizer.json")));
    }

    [Fact]
    public void A_file_in_original_is_judged_by_the_model_folder()
    {
        using var folder = new TempFolder();
        folder.Write("config.json", "{\"rope_scaling\": {\"rope_type\": \"llama3\"}}");
        string model = folder.Write(Path.Combine("original", "tokenizer.model"), "");

        Assert.Equal(ChatFormatVersion.Llama31, ChatFormatVersionDetector.Detect(model));
        Assert.Equal(ChatFormatVersion.Llama31, ChatFormatVersionDetector.Detect(Path.Combine(folder.Path, "original")));
    }

    [Fact]
    public void No_signal_means_3_0_and_bad_json_is_reported()
    {
        using var folder = new TempFolder();
        Assert.Equal(ChatFormatVersion.Llama30, ChatFormatVersionDetector.Detect(folder.Path));

        string config = folder.Write("config.json", "{ broken");
        var error = Assert.Throws<InvalidDataException>(() => ChatFormatVersionDetector.Detect(folder.Path));
        Assert.Contains(config, error.Message);
    }
}
