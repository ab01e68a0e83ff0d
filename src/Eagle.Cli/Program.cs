using System.CommandLine;
using Eagle.Cli.Commands;

var root = new RootCommand("eagle: EAGLE speculative decoding for LLaMA-3 on TorchSharp")
{
    CreateTestModelCommand.Create(),
    TrainDraftCommand.Create(),
    InspectCommand.Create(),
    GenerateCommand.Create(),
    BenchCommand.Create(),
    TokenizeCommand.Create(),
    PromptCommand.Create(),
    SelftestCommand.Create(),
};
return root.Parse(args).Invoke();
