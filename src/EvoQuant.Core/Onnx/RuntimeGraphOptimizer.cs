using EvoQuant.IO;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Onnx;

/// <summary>How far ONNX Runtime rewrites a graph before it is saved (its own levels, without the
/// layout changes of its highest level, which tie a model to the machine that saved it).</summary>
public enum GraphOptimization
{
    /// <summary>Constant folding, redundant node removal and the fusions any provider runs (Conv + Add, ...).
    /// The output is plain ONNX: the reference tool's quant_pre_process default.</summary>
    Basic,
    /// <summary>Basic plus ONNX Runtime's fused com.microsoft ops for the CPU: transformers get Attention,
    /// SkipLayerNormalization, EmbedLayerNormalization, FastGelu / BiasGelu. The output runs on ONNX Runtime only.</summary>
    Extended,
}

/// <summary>What <see cref="RuntimeGraphOptimizer.Optimize"/> wrote.</summary>
public sealed record GraphOptimizationResult
{
    public required string Path { get; init; }
    public required GraphOptimization Level { get; init; }
    public required int NodesBefore { get; init; }
    public required int NodesAfter { get; init; }
    /// <summary>Op types (domain-qualified when not ONNX's) and how many nodes of each the output has more of than the input.</summary>
    public required IReadOnlyDictionary<string, int> OpTypesAdded { get; init; }
    /// <summary>Tensors with a declared type and shape (value_info, graph inputs and outputs) in the output.</summary>
    public required int TypedTensors { get; init; }
    public required long FileSize { get; init; }
}

/// <summary>
/// The reference tool's quant_pre_process, done by ONNX Runtime itself: a session at the chosen level
/// optimizes the graph and saves it (<see cref="SessionOptions.OptimizedModelFilePath"/>), then the types
/// and shapes of its tensors are declared as value_info (the reference tool's separate shape inference step:
/// ONNX Runtime does not save what it inferred, so <see cref="RuntimeShapeInference"/> asks it). The output is
/// written atomically and never over the input; a model with external data (or over 2 GiB) gets its
/// initializers in one data file beside it.
/// </summary>
public static class RuntimeGraphOptimizer
{
    /// <summary>Initializers at least this large go to the external data file when one is written.</summary>
    private const long ExternalThreshold = 1024;

    /// <exception cref="ArgumentException">The output is the input model.</exception>
    /// <exception cref="OutputNotWritableException">The output cannot be written.</exception>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime cannot load the model.</exception>
    public static GraphOptimizationResult Optimize(OnnxModel model, string outputPath, GraphOptimization level = GraphOptimization.Basic)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        string output = System.IO.Path.GetFullPath(outputPath);
        if (model.Path != null && RealPath.SameEntry(model.Path, output))
            throw new ArgumentException($"Refusing to overwrite the input model '{output}'.", nameof(outputPath));

        bool external = model.SizeOnDisk > model.FileSize || model.WeightBytes > int.MaxValue;
        // ONNX Runtime writes into a private folder; the model is then saved by EvoQuant, atomically, with
        // the types and shapes declared and its external data (if any) beside the output.
        string work = Directory.CreateTempSubdirectory("evoquant-optimize-").FullName;
        try
        {
            string temp = System.IO.Path.Combine(work, "optimized.onnx");
            using (var options = new SessionOptions
            {
                GraphOptimizationLevel = level == GraphOptimization.Extended ? GraphOptimizationLevel.ORT_ENABLE_EXTENDED : GraphOptimizationLevel.ORT_ENABLE_BASIC,
                OptimizedModelFilePath = temp,
                LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
            })
            {
                if (external)
                {
                    options.AddSessionConfigEntry("session.optimized_model_external_initializers_file_name", "optimized.onnx.data");
                    options.AddSessionConfigEntry("session.optimized_model_external_initializers_min_size_in_bytes", ExternalThreshold.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
                using var file = RuntimeModelFile.For(model);
                using var session = file.Open(options);
            }

            var optimized = RuntimeShapeInference.Declare(OnnxModel.Load(temp), out _);
            var written = optimized.Save(output, new ModelSaveOptions
            {
                Overwrite = true,
                Source = model,
                ProtectedPaths = model.Path != null ? new[] { model.Path } : Array.Empty<string>(),
            });
            var g = optimized.Proto.Graph;
            return new GraphOptimizationResult
            {
                Path = output,
                Level = level,
                NodesBefore = model.Proto.Graph.Node.Count,
                NodesAfter = g.Node.Count,
                OpTypesAdded = Added(model, optimized),
                TypedTensors = g.ValueInfo.Concat(g.Input).Concat(g.Output).Count(v => v.Type?.TensorType?.Shape != null),
                FileSize = written.Sum(p => new FileInfo(p).Length),
            };
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); }
            catch (IOException) { } // a temporary folder left behind costs nothing but disk
        }
    }

    private static Dictionary<string, int> Added(OnnxModel before, OnnxModel after)
    {
        static Dictionary<string, int> Count(OnnxModel m) => m.Proto.Graph.Node
            .GroupBy(n => string.IsNullOrEmpty(n.Domain) || n.Domain == "ai.onnx" ? n.OpType : n.Domain + "." + n.OpType)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var b = Count(before);
        return Count(after).Where(kv => kv.Value > b.GetValueOrDefault(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value - b.GetValueOrDefault(kv.Key), StringComparer.Ordinal);
    }
}
