using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Provenance;

namespace EvoQuant.Evaluation;

// Weights: each float constant of a quantized source node against its integer form, dequantized offline.
internal sealed partial class PerTensorPlanBuilder
{
    /// <summary>Each float weight or bias of the source node whose provenance gives an integer constant and its
    /// scale (an int32 bias of an integer op has none: its scale is implied, and it is not compared). Weights
    /// of a node a BatchNormalization was folded into are new values, not the source's: skipped.</summary>
    private void CompareWeights(NodeProto r, List<TensorComparison> rows)
    {
        if (_foldedInto.TryGetValue(ProvenanceReader.SourceId(r), out var folded) && folded.Any(f => f.OpType == "BatchNormalization")) return;
        for (int j = 0; j < r.Input.Count; j++)
        {
            _work.Add();
            string w = r.Input[j];
            if (w.Length == 0 || _rg.GetConstant(w) is not { DataType: ElementTypes.Float } rw) continue;
            if (!_provenance.Tensors.TryGetValue(w, out var t) || t.Kind == ProvenanceKind.Activation || t.QuantizedTensor == null || t.Scale == null) continue;
            if (_cg.GetConstant(t.QuantizedTensor) is not { } qt || _cg.GetConstant(t.Scale) is not { } st) continue;
            var zt = t.ZeroPoint != null ? _cg.GetConstant(t.ZeroPoint) : null;
            if (t.ZeroPoint != null && zt == null) continue;
            // A weight stored in another layout is compared in that layout (2-D transposes only). A provenance
            // without the optional Permutation still shows a non-square transpose by its shape.
            bool transposed = rw.Dims.Count == 2 && (t.Permutation is [1, 0]
                || (t.Permutation == null && rw.Dims[0] != rw.Dims[1] && qt.Dims.Count == 2 && qt.Dims[0] == rw.Dims[1] && qt.Dims[1] == rw.Dims[0]));
            if (t.Permutation != null && !transposed) continue;
            var dims = transposed ? new[] { rw.Dims[1], rw.Dims[0] } : rw.Dims.ToArray();
            if (!qt.Dims.SequenceEqual(dims)) continue;
            var dequantized = QuantizedConstant.Dequantize(_candidate, qt, st, zt, t.Axis);
            if (dequantized == null) continue;
            float[] reference = _reference.GetFloats(rw);
            if (transposed) reference = Transpose(reference, (int)rw.Dims[0], (int)rw.Dims[1]);
            if (dequantized.Length != reference.Length) continue;
            var s = ErrorMetrics.Summarize(reference, dequantized);
            int order = r.Output.Count > 0 ? _refOrder.GetValueOrDefault(r.Output[0], -1) : -1;
            rows.Add(TensorComparison.From(w, TensorKind.Weight, PerTensorPlan.DisplayName(r), r.OpType, order, t.DequantizedTensor ?? t.QuantizedTensor, s, null));
        }
    }

    private static float[] Transpose(float[] values, int rows, int columns)
    {
        var result = new float[values.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < columns; j++)
                result[j * rows + i] = values[i * columns + j];
        return result;
    }
}
