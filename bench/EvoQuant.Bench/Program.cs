using BenchmarkDotNet.Running;

// `dotnet run -c Release --project bench/EvoQuant.Bench -- --filter *` runs every benchmark.
// `-- peer-check [package-dir]` compares with ONNX Runtime's own quantization tool (opt-in, see InferencePeerCheck).
if (args is ["peer-check", ..]) return EvoQuant.Bench.InferencePeerCheck.Run(args[1..]);
if (args is ["calib-profile", ..]) return EvoQuant.Bench.CalibrationProfile.Run(args[1..]);
if (args is ["calib-mem", ..]) return EvoQuant.Bench.CalibrationMemoryProbe.Run(args[1..]);
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;

public partial class Program { }
