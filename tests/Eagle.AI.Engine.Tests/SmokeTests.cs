using TorchSharp;
namespace Eagle.AI.Engine.Tests;
public class SmokeTests { [Fact] public void Loads() => Assert.Equal(2f, torch.ones(2).sum().item<float>()); }
