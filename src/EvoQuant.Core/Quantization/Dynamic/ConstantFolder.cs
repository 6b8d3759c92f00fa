using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Dynamic;

/// <summary>Evaluates the few shape ops exporters put between a float parameter and the node that
/// uses it (Identity, Unsqueeze, Squeeze, Reshape, Slice, Concat, Transpose of constants), so that such
/// a weight can be quantized. Anything else is not folded (null).</summary>
internal static class ConstantFolder
{
    public static (float[] Data, long[] Dims)? Fold(DynamicScope scope, string tensor)
    {
        if (scope.FoldCache.TryGetValue(tensor, out var cached)) return cached;
        var r = Compute(scope, tensor);
        // A stored constant is read again when asked again: kept, every float weight of a model would stay
        // in memory to the end (issue 21: 2.2 GB of weights, 6.8 GB peak). Only computed folds are kept.
        if (scope.RawConstant(tensor) == null) scope.FoldCache[tensor] = r;
        return r;
    }

    private static (float[] Data, long[] Dims)? Compute(DynamicScope scope, string tensor)
    {
        if (scope.RawConstant(tensor) is { } t)
            return t.DataType == ElementTypes.Float ? (scope.Floats(t), t.Dims.ToArray()) : null;
        if (scope.ScopedProducer(tensor) is not { } p || !string.IsNullOrEmpty(p.Domain) || p.Input.Count == 0 || p.Output.Count != 1) return null;
        long[]? Ints(int input, string attribute) =>
            p.Input.Count > input && p.Input[input].Length > 0 ? scope.IntConstant(p.Input[input])
            : p.Attribute.FirstOrDefault(a => a.Name == attribute)?.Ints.ToArray();

        if (p.OpType == "Concat")
        {
            var parts = p.Input.Select(i => Fold(scope, i)).ToList();
            if (parts.Any(x => x == null)) return null;
            return Concat(parts.Select(x => x!.Value).ToList(), QuantizationContext.IntAttribute(p, "axis", 0));
        }
        if (Fold(scope, p.Input[0]) is not var (data, dims)) return null;
        switch (p.OpType)
        {
            case "Identity":
                return (data, dims);
            case "Unsqueeze":
            {
                if (Ints(1, "axes") is not { } axes) return null;
                var list = dims.ToList();
                int rank = list.Count + axes.Length;
                foreach (long a in axes.Select(a => a < 0 ? a + rank : a).Order()) list.Insert((int)a, 1);
                return (data, list.ToArray());
            }
            case "Squeeze":
            {
                var axes = Ints(1, "axes");
                if (axes == null) return (data, dims.Where(d => d != 1).ToArray());
                var drop = axes.Select(a => a < 0 ? a + dims.Length : a).ToHashSet();
                return (data, dims.Where((_, i) => !drop.Contains(i)).ToArray());
            }
            case "Reshape":
            {
                if (p.Input.Count < 2 || scope.IntConstant(p.Input[1]) is not { } shape) return null;
                shape = shape.Select((d, i) => d == 0 && i < dims.Length ? dims[i] : d).ToArray();
                long known = shape.Where(d => d > 0).Aggregate(1L, (a, b) => a * b), total = data.Length;
                if (shape.Count(d => d == -1) == 1 && known > 0) shape = shape.Select(d => d == -1 ? total / known : d).ToArray();
                return shape.Aggregate(1L, (a, b) => a * b) == total ? (data, shape) : null;
            }
            case "Slice":
                return Slice(data, dims, Ints(1, "starts"), Ints(2, "ends"), Ints(3, "axes"), p.Input.Count > 4 ? Ints(4, "steps") : null);
            case "Transpose" when dims.Length == 2:
            {
                var perm = p.Attribute.FirstOrDefault(a => a.Name == "perm")?.Ints.ToArray() ?? new long[] { 1, 0 };
                if (perm is not [1, 0]) return (data, dims);
                int rows = (int)dims[0], cols = (int)dims[1];
                var o = new float[data.Length];
                for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) o[c * rows + r] = data[r * cols + c];
                return (o, new long[] { cols, rows });
            }
            default:
                return null;
        }
    }

    private static (float[], long[])? Slice(float[] data, long[] dims, long[]? starts, long[]? ends, long[]? axes, long[]? steps)
    {
        if (starts == null || ends == null || starts.Length != ends.Length) return null;
        axes ??= Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        if (steps != null && steps.Any(s => s != 1)) return null;
        var lo = new long[dims.Length];
        var hi = dims.ToArray();
        for (int k = 0; k < axes.Length; k++)
        {
            int ax = (int)(axes[k] < 0 ? axes[k] + dims.Length : axes[k]);
            long d = dims[ax];
            long s = starts[k] < 0 ? starts[k] + d : starts[k], e = ends[k] < 0 ? ends[k] + d : ends[k];
            lo[ax] = Math.Clamp(s, 0, d);
            hi[ax] = Math.Clamp(e, 0, d);
            if (hi[ax] < lo[ax]) hi[ax] = lo[ax];
        }
        var outDims = dims.Select((_, i) => hi[i] - lo[i]).ToArray();
        var result = new float[outDims.Aggregate(1L, (a, b) => a * b)];
        var strides = new long[dims.Length];
        for (int i = dims.Length - 1, acc = 1; i >= 0; acc *= (int)dims[i], i--) strides[i] = acc;
        var idx = new long[dims.Length];
        for (long n = 0; n < result.Length; n++)
        {
            long src = 0, rem = n;
            for (int i = dims.Length - 1; i >= 0; i--)
            {
                idx[i] = rem % outDims[i];
                rem /= outDims[i];
                src += (idx[i] + lo[i]) * strides[i];
            }
            result[n] = data[src];
        }
        return (result, outDims);
    }

    private static (float[], long[])? Concat(List<(float[] Data, long[] Dims)> parts, long axis)
    {
        int rank = parts[0].Dims.Length;
        int ax = (int)(axis < 0 ? axis + rank : axis);
        if (parts.Any(p => p.Dims.Length != rank)) return null;
        long outer = parts[0].Dims.Take(ax).Aggregate(1L, (a, b) => a * b);
        var outDims = parts[0].Dims.ToArray();
        outDims[ax] = parts.Sum(p => p.Dims[ax]);
        var result = new float[outDims.Aggregate(1L, (a, b) => a * b)];
        long pos = 0;
        for (long o = 0; o < outer; o++)
            foreach (var (data, dims) in parts)
            {
                long block = dims.Skip(ax).Aggregate(1L, (a, b) => a * b);
                Array.Copy(data, o * block, result, pos, block);
                pos += block;
            }
        return (result, outDims);
    }
}
