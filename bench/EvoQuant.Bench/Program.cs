using BenchmarkDotNet.Running;

// `dotnet run -c Release --project bench/EvoQuant.Bench -- --filter *` runs every benchmark.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

public partial class Program { }
