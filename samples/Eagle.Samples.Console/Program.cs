using Eagle.Samples.Console;

// dotnet run -- --model /models/Meta-Llama-3.1-8B-Instruct --draft /models/EAGLE3-LLaMA3.1-Instruct-8B
// (or any "Eagle" setting: --Eagle:Device=cpu). Progress and errors go to stderr, the chat to stdout.
return await ChatConsole.RunAsync(args, System.Console.In, System.Console.Out).ConfigureAwait(false);
