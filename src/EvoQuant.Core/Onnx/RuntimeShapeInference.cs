using EvoQuant.Calibration;
using EvoQuant.Onnx.Proto;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Onnx;

/// <summary>
/// Types and shapes of a model's intermediate tensors as ONNX Runtime infers them while it loads the model
/// (the reference tool runs ONNX's shape inference for this): every node output is exposed as a graph output
/// of a copy, ONNX Runtime reports its element type and dimensions, fixed or symbolic, and they are declared
/// as value_info. ONNX Runtime's own fused ops are covered, which ONNX's inference does not know.
/// </summary>
public static class RuntimeShapeInference
{
    /// <summary>A copy of the model that declares the type and shape of every node output ONNX Runtime can
    /// tell; <paramref name="added"/> counts the new declarations.</summary>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime cannot load the model.</exception>
    public static OnnxModel Declare(OnnxModel model, out int added)
    {
        ArgumentNullException.ThrowIfNull(model);
        added = 0;
        var proto = model.CloneProto();
        var graph = proto.Graph;
        var declared = graph.ValueInfo.Select(v => v.Name).Concat(graph.Output.Select(o => o.Name)).Concat(graph.Input.Select(i => i.Name))
            .ToHashSet(StringComparer.Ordinal);
        var wanted = graph.Node.SelectMany(n => n.Output).Where(o => o.Length > 0 && !declared.Contains(o)).Distinct(StringComparer.Ordinal).ToList();
        if (wanted.Count == 0) return model;

        var exposed = AugmentedModelBuilder.Build(model, wanted);
        // No optimization: every exposed tensor must survive as it is in the graph.
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var file = RuntimeModelFile.For(exposed);
        using var session = file.Open(options);
        foreach (string name in wanted)
        {
            if (!session.OutputMetadata.TryGetValue(name, out var meta) || !meta.IsTensor) continue;
            var shape = new TensorShapeProto();
            for (int d = 0; d < meta.Dimensions.Length; d++)
            {
                var dim = new TensorShapeProto.Types.Dimension();
                if (meta.Dimensions[d] >= 0) dim.DimValue = meta.Dimensions[d];
                else if (d < meta.SymbolicDimensions.Length && !string.IsNullOrEmpty(meta.SymbolicDimensions[d])) dim.DimParam = meta.SymbolicDimensions[d];
                shape.Dim.Add(dim);
            }
            // ONNX Runtime's element type numbers are ONNX's TensorProto data types.
            graph.ValueInfo.Add(new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)meta.ElementDataType, Shape = shape } },
            });
            added++;
        }
        return model.With(proto);
    }
}
