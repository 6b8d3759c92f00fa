using BenchmarkDotNet.Running;
using EvoQuant.Bench;

// `dotnet run -c Release --project bench/EvoQuant.Bench -- --filter *` runs every benchmark.
<<<<<<< HEAD
// `-- peer-check [package-dir]` compares with ONNX Runtime's own quantization tool (opt-in, see InferencePeerCheck).
if (args is ["peer-check", ..]) return EvoQuant.Bench.InferencePeerCheck.Run(args[1..]);
=======
// `... -- --paired [rounds] [name filter]` runs the kernel set interleaved (see PairedRun).
if (args.Length > 0 && args[0] == "--paired")
{
    PairedRun.Run(args.Length > 1 ? int.Parse(args[1]) : 30, args.Length > 2 ? args[2] : null);
    return;
}
>>>>>>> numerics
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;

public partial class Program { }
