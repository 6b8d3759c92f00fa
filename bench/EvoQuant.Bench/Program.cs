using BenchmarkDotNet.Running;
using EvoQuant.Bench;

// `dotnet run -c Release --project bench/EvoQuant.Bench -- --filter *` runs every benchmark.
// `... -- --paired [rounds] [name filter]` runs the kernel set interleaved (see PairedRun).
if (args.Length > 0 && args[0] == "--paired")
{
    PairedRun.Run(args.Length > 1 ? int.Parse(args[1]) : 30, args.Length > 2 ? args[2] : null);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

public partial class Program { }
