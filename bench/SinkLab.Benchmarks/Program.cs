using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/SinkLab.Benchmarks -- --filter '*'
// SINKLAB_SHARED points at ../shared when it is not beside the repository.
BenchmarkSwitcher.FromAssembly(typeof(SinkLab.Benchmarks.KernelBenchmarks).Assembly).Run(args);
