using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Checkpoints;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Tests.Cli;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Llama;

public class LlamaCheckpointTests
{
    private static double[][] Logits(LlamaForCausalLM m)
    {
        using var noGrad = no_grad();
        using var cache = m.NewCache(8);
        using var ids = tensor(new long[] { 3, 1, 4, 1, 5 });
        using var pos = HeldScalars.Range(0, 5);
        using var o = m.Forward(ids, pos, cache, null, ForwardRequest.AllLogits);
        return TensorAssert.Rows(o.Logits);
    }

    [Theory]
    [InlineData("A", null)]
    [InlineData("B", null)]
    [InlineData("C", 20_000L)]
    public void Save_then_load_gives_the_same_model(string name, long? shardBytes)
    {
        using var dir = new TempDir();
        using var m = TestModels.Create(name, seed: 9);
        LlamaCheckpoint.Save(m, dir.Path, shardBytes);
        Assert.Equal(shardBytes is not null, File.Exists(Path.Combine(dir.Path, "model.safetensors.index.json")));
        using var loaded = LlamaCheckpoint.Load(dir.Path, ScalarType.Float32, CPU);
        Assert.Equal(Logits(m), Logits(loaded));
        Assert.Equal(m.Config.TieWordEmbeddings, loaded.lm_head is null);
    }

    [Theory]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public void A_half_precision_checkpoint_loads_into_fp32(ScalarType stored)
    {
        using var dir = new TempDir();
        using var m = TestModels.Create("A", seed: 9);
        using (var half = new LlamaForCausalLM(m.Config, stored, CPU))
        {
            using (no_grad())
                foreach (var (n, p) in half.named_parameters()) p.copy_(m.get_parameter(n)!);
            LlamaCheckpoint.Save(half, dir.Path);
        }
        using var loaded = LlamaCheckpoint.Load(dir.Path, ScalarType.Float32, CPU);
        Assert.Equal(ScalarType.Float32, loaded.DType);
        TensorAssert.Close(Logits(loaded), Logits(m), stored == ScalarType.Float16 ? 2e-2 : 6e-2, "half round trip");
    }

    [Fact]
    public void A_tensor_shaped_differently_from_config_json_names_the_file_and_the_tensor()
    {
        using var dir = new TempDir();
        using var m = TestModels.Create("A");
        LlamaCheckpoint.Save(m, dir.Path);
        (m.Config with { IntermediateSize = 65 }).Save(dir.Path);
        var e = Assert.Throws<CheckpointException>(() => LlamaCheckpoint.Load(dir.Path, ScalarType.Float32, CPU));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("mlp", e.Message);
    }

    [Theory]
    [InlineData("{\"architectures\":[\"MistralForCausalLM\"],\"hidden_size\":8}", "architecture")]
    [InlineData("{\"hidden_size\":8,\"intermediate_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":2,\"vocab_size\":4,\"rope_scaling\":{\"rope_type\":\"yarn\"}}", "rope_scaling")]
    [InlineData("{\"hidden_size\":8,\"intermediate_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":3,\"num_key_value_heads\":2,\"vocab_size\":4}", "num_key_value_heads")]
    [InlineData("{not json", "invalid JSON")]
    public void Unsupported_configs_are_clear_errors(string json, string expected)
    {
        using var dir = new TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "config.json"), json);
        var e = Assert.Throws<CheckpointException>(() => LlamaConfig.Load(dir.Path));
        Assert.Contains(expected, e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void Eos_may_be_an_int_or_a_list_and_head_dim_may_differ_from_hidden_over_heads()
    {
        using var dir = new TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "config.json"),
            "{\"hidden_size\":8,\"intermediate_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":2,\"head_dim\":6,\"vocab_size\":4,\"eos_token_id\":7,\"bos_token_id\":1}");
        var c = LlamaConfig.Load(dir.Path);
        Assert.Equal([7], c.EosTokenIds);
        Assert.Equal(6, c.HeadDim);
        Assert.Equal(1, c.BosTokenId);
        Assert.Equal([128001, 128008, 128009], LlamaPresets.Get("tiny").EosTokenIds);
    }

    [Fact]
    public void Module_keys_and_shapes_match_the_hugging_face_layout()
    {
        var c = TestModels.B; // tied, GQA 8/1, head_dim 12 ≠ 48/8
        using var m = new LlamaForCausalLM(c, ScalarType.Float32, CPU);
        var listing = m.state_dict().OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Where(kv => !kv.Key.Contains(".layers.1", StringComparison.Ordinal) && !kv.Key.Contains(".layers.2", StringComparison.Ordinal)
                         && !kv.Key.Contains(".layers.3", StringComparison.Ordinal) && !kv.Key.Contains(".layers.4", StringComparison.Ordinal))
            .Select(kv => $"{kv.Key} [{string.Join(", ", kv.Value.shape)}]");
        Assert.Equal(
        [
            "model.embed_tokens.weight [101, 48]",
            "model.layers.0.input_layernorm.weight [48]",
            "model.layers.0.mlp.down_proj.weight [48, 96]",
            "model.layers.0.mlp.gate_proj.weight [96, 48]",
            "model.layers.0.mlp.up_proj.weight [96, 48]",
            "model.layers.0.post_attention_layernorm.weight [48]",
            "model.layers.0.self_attn.k_proj.weight [12, 48]",
            "model.layers.0.self_attn.o_proj.weight [48, 96]",
            "model.layers.0.self_attn.q_proj.weight [96, 48]",
            "model.layers.0.self_attn.v_proj.weight [12, 48]",
            "model.norm.weight [48]",
        ], listing);
        Assert.Equal(5 * 9 + 2, m.state_dict().Count);
    }
}
