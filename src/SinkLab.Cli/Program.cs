using System.CommandLine;
using SinkLab.Cli.Commands;

var root = new RootCommand("SinkLab: run, inspect and stream GGUF language models, and study attention sinks.")
{
    InfoCommand.Create(),
    GenerateCommand.Create(),
    PerplexityCommand.Create(),
    BenchCommand.Create(),
    ConvertCommand.Create(),
    InspectCommand.Create(),
    AttentionCommand.Create(),
    StreamCommand.Create(),
    ChatCommand.Create(),
    SynthCommand.Create(),
    QuantizeCommand.Create(),
    CushionCommand.Create(),
    CompareCommand.Create(),
    RecallCommand.Create(),
    TrainCommand.CreateTrain(),
    TrainCommand.CreateExperiment(),
    PlotCommand.Create(),
};
return root.Parse(args).Invoke();
