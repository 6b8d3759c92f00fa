using BenchmarkDotNet.Running;
using EvoQuant.Bench;

// `dotnet run -c Release --project bench/EvoQuant.Bench -- --filter *` runs every benchmark.
// `-- peer-check [package-dir]` compares with ONNX Runtime's own quantization tool (opt-in, see InferencePeerCheck).
if (args is ["peer-check", ..]) return InferencePeerCheck.Run(args[1..]);
// `-- calib-profile ...` / `-- calib-mem ...`: where calibration time goes, and its peak memory (see those classes).
if (args is ["calib-profile", ..]) return CalibrationProfile.Run(args[1..]);
if (args is ["calib-mem", ..]) return CalibrationMemoryProbe.Run(args[1..]);
// `-- calib-bins [bins] [method] [budget-MiB]`: fashion-cnn's peak resident memory at a histogram bin count (see CalibrationBinsMemory).
if (args is ["calib-bins", ..]) return CalibrationBinsMemory.Run(args[1..]);
// `-- calib-search ...`: the Entropy threshold searches alone, on a real calibration's histograms.
if (args is ["calib-search", ..]) return ThresholdSearchProfile.Run(args[1..]);
// `-- speed [rounds] [threads]`: float vs int8 fashion-cnn timed as Compare-QuantAccuracy times them (see SpeedCheck).
if (args is ["speed", ..]) return SpeedCheck.Run(args[1..]);
// `-- node-profile [batch] [owners]`: the PaddleOCR classifier's float and int8 per-node profiles attributed to its nodes;
// `-- node-profile exclude <node> <tensor>`: the nodes around a Conv kept float by ExcludeNodes (see NodeProfileProbe).
if (args is ["node-profile", ..]) return NodeProfileProbe.Run(args[1..]);
// `-- speed-aware [rounds] [cls|fashion|all]`: the host defaults with and without KeepSlowNodesFloat, accuracy and speed (see SpeedAwareCheck).
if (args is ["speed-aware", ..]) return SpeedAwareCheck.Run(args[1..]);
// `-- big-graphs [scale] [which]`: issue 16's pathological graph sizes, timed through Core (see BigGraphs).
if (args is ["big-graphs", ..]) return BigGraphs.Run(args[1..]);
// `-- large-models [blocks] [steps] [folder]`: issue 21's models over 2 GiB, time and peak memory per step (see LargeModels).
if (args is ["large-models", ..]) return LargeModels.Run(args[1..]);
if (args is ["large-models-step", ..]) return LargeModels.Step(args[1..]);
if (args is ["transformers", ..]) return TransformerCheck.Run(args[1..]); // issue 18: BERT-family int8 accuracy and speed (see TransformerCheck)
// `-- weight-numerics [seeds]`: accuracy of ADMM weight scales and stochastic rounding (see WeightNumericsCheck).
if (args is ["weight-numerics", ..]) return WeightNumericsCheck.Run(args[1..]);
// `-- log-weights`: logarithmic weights (8/4-bit) against linear at the same width on fashion-cnn (see LogWeightsCheck).
if (args is ["log-weights", ..]) return LogWeightsCheck.Run(args[1..]);
// `-- fold-probe [folder]` / `-- fold-tensors a.onnx b.onnx` / `-- det-fold [method]`: what folding Relu/Clip (and BatchNormalization) costs on the PaddleOCR classifier and detector (see FoldProbe, DetFoldProbe).
if (args is ["fold-probe", ..]) return FoldProbe.Run(args[1..]);
if (args is ["fold-tensors", ..]) return FoldTensors.Run(args[1..]);
if (args is ["det-fold", ..]) return DetFoldProbe.Run(args[1..]);
if (args is ["calibration-methods", ..]) return CalibrationMethodsBench.Run(args[1..]); // issue 20's Auto bar (see CalibrationMethodsBench)
if (args is ["wo-gptq", ..]) return WeightOnlyGptqCheck.Run(args[1..]); // issue 19: weight-only on MiniLM (quality, GPTQ statistics memory) and a generated decoder (`wo-gptq decoder ...`)
// `-- tf-dynamic [model] [sentences] [queries] [rounds] [variants]`: dynamic int8 of BERT-family models (see TransformerDynamic).
if (args is ["tf-dynamic", ..]) return TransformerDynamic.Run(args[1..]);
// `-- tf-static [model] [calibration] [evaluation] [rounds]`: static int8 of a sentence-embedding model with the defaults (see TransformerStatic).
if (args is ["tf-static", ..]) return TransformerStatic.Run(args[1..]);
// `-- --paired [rounds] [name filter]` runs the kernel set interleaved (see PairedRun).
if (args is ["--paired", ..])
{
    PairedRun.Run(args.Length > 1 ? int.Parse(args[1]) : 30, args.Length > 2 ? args[2] : null);
    return 0;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;

public partial class Program { }
