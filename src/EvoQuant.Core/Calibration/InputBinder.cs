using EvoQuant.Numerics;
using System.Globalization;
using EvoQuant.Data;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Calibration;

/// <summary>A sample matched to the model's inputs: one tensor per runtime input, with the right type and shape.</summary>
public sealed record BoundSample(IReadOnlyDictionary<string, NamedTensor> Inputs, long Rows, string Source);

/// <summary>Maps sample tensors to a model's runtime inputs and checks them. By name; a single-input
/// model takes a lone tensor whatever its name; an input_K.pb without a name goes to the K-th input.
/// Element types convert within their kind (float16/32/64 among themselves, integers among
/// themselves); a float sample for an integer input (or the reverse) is a mismatch. Fixed dimensions
/// must match; symbolic ones accept any size. A tensor lacking only the batch axis gets one, and a
/// flat .NET array is reshaped when its length fits the input's fixed dimensions.</summary>
public sealed class InputBinder
{
    /// <summary>A runtime input: name, element type and dims (null where symbolic or unknown; null
    /// array when the rank is unknown).</summary>
    public sealed record InputSpec(string Name, int ElementType, long?[]? Dims)
    {
        public string ShapeText => Dims == null ? "(any shape)" : "[" + string.Join(",", Dims.Select(d => d?.ToString(CultureInfo.InvariantCulture) ?? "?")) + "]";
        public string TypeName => ElementTypes.Name(ElementType);

        /// <summary>Whether axis 0 can take any size, so samples can be batched along it.</summary>
        public bool HasDynamicBatch => Dims is { Length: > 0 } && Dims[0] == null;
    }

    public IReadOnlyList<InputSpec> Inputs { get; }

    public InputBinder(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Inputs = model.Graph.RuntimeInputs.Select(Spec).ToList();
        if (Inputs.Count == 0) throw new ArgumentException("The model has no runtime inputs to feed.");
    }

    private static InputSpec Spec(ValueInfoProto vi)
    {
        var tt = vi.Type?.TensorType ?? throw new NotSupportedException($"Input '{vi.Name}' is not a tensor ({vi.Type?.ValueCase}); only tensor inputs can be calibrated.");
        long?[]? dims = tt.Shape == null ? null : tt.Shape.Dim
            .Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue > 0 ? d.DimValue : (long?)null).ToArray();
        return new InputSpec(vi.Name, tt.ElemType, dims);
    }

    /// <summary>True when every input has a dynamic batch axis, so samples may be concatenated and split.</summary>
    public bool CanBatch => Inputs.All(i => i.HasDynamicBatch);

    /// <summary>Matches and checks a sample; throws <see cref="SampleMismatchException"/> when it does not fit.</summary>
    public BoundSample Bind(Sample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var bound = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        var tensors = sample.Tensors;
        string have = string.Join(", ", tensors.Select(t => t.ToString()));
        if (Inputs.Count == 1 && tensors.Count == 1)
        {
            // A lone tensor feeds the lone input whatever its name, unless it is named after something else:
            // a .pb or .npz entry (or a dictionary key) that names no input was meant for another model.
            string? name = tensors[0].Name;
            if (!string.IsNullOrEmpty(name) && name != Inputs[0].Name && !IsPositional(name))
                throw new SampleMismatchException(SampleMismatchKind.UnknownName, Inputs[0].Name, "[" + Inputs[0].Name + "]", name, sample.Source,
                    $"Name the tensor '{Inputs[0].Name}', or give it without a name (.npy).");
            bound[Inputs[0].Name] = tensors[0];
        }
        else
        {
            foreach (var t in tensors)
            {
                InputSpec? spec = null;
                if (t.Name == null)
                    throw new SampleMismatchException(SampleMismatchKind.UnnamedTensor, null, "[" + string.Join(", ", Inputs.Select(i => i.Name)) + "]",
                        have, sample.Source, "Name each tensor after its input (a dictionary name -> array, or an .npz with those names).");
                if (t.Name.StartsWith('#') && int.TryParse(t.Name.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int k) && k < Inputs.Count)
                    spec = Inputs[k];
                else spec = Inputs.FirstOrDefault(i => i.Name == t.Name);
                if (spec != null) bound[spec.Name] = t; // tensors for no input (labels in an .npz ...) are ignored
            }
            foreach (var spec in Inputs)
                if (!bound.ContainsKey(spec.Name))
                    throw new SampleMismatchException(SampleMismatchKind.MissingInput, spec.Name, $"{spec.TypeName}{spec.ShapeText}", have, sample.Source);
        }

        long? rows = null;
        var result = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var spec in Inputs)
        {
            var t = Check(spec, bound[spec.Name], sample.Source);
            long nonFinite = NonFiniteCount(t.Data);
            if (nonFinite > 0)
                throw new SampleMismatchException(SampleMismatchKind.NonFinite, spec.Name, "finite values", nonFinite.ToString(CultureInfo.InvariantCulture), t.Source ?? sample.Source);
            result[spec.Name] = t.Name == spec.Name ? t : t.WithName(spec.Name);
            if (t.Rank > 0)
            {
                if (rows != null && rows != t.Rows && CanBatch)
                    throw new SampleMismatchException(SampleMismatchKind.Shape, spec.Name, $"{rows} rows like the sample's other inputs", $"{t.Rows} rows {t.ShapeText}", sample.Source);
                rows ??= t.Rows;
            }
        }
        return new BoundSample(result, rows ?? 1, sample.Source);
    }

    private static NamedTensor Check(InputSpec spec, NamedTensor t, string source)
    {
        if (t.ElementType != spec.ElementType)
        {
            bool convertible = (IsFloat(t.ElementType) && IsFloat(spec.ElementType)) || (IsInt(t.ElementType) && IsInt(spec.ElementType));
            if (!convertible || TypedArrays.ClrType(spec.ElementType) == null)
                throw new SampleMismatchException(SampleMismatchKind.ElementType, spec.Name, spec.TypeName, $"{t.ElementTypeName}{t.ShapeText}", t.Source ?? source);
            t = t.ConvertTo(spec.ElementType);
        }
        if (spec.Dims == null) return t;
        var dims = spec.Dims;
        if (t.Rank == dims.Length && Fits(t.Shape, dims)) return t;

        // A sample missing only the batch axis (one image [1,28,28] for [N,1,28,28]).
        if (t.Rank == dims.Length - 1 && (dims[0] == null || dims[0] == 1) && Fits(t.Shape, dims.AsSpan(1)))
            return t.Reshape(new long[] { 1 }.Concat(t.Shape).ToArray());

        // A flat .NET array whose length fits the fixed dims.
        if (t.IsFlat && dims.Length > 1 && dims.Skip(1).All(d => d != null))
        {
            long inner = dims.Skip(1).Aggregate(1L, (a, d) => a * d!.Value);
            if (inner > 0 && t.ElementCount % inner == 0 && (dims[0] == null || dims[0] == t.ElementCount / inner))
                return t.Reshape(new[] { t.ElementCount / inner }.Concat(dims.Skip(1).Select(d => d!.Value)).ToArray());
        }
        throw new SampleMismatchException(SampleMismatchKind.Shape, spec.Name, spec.ShapeText, t.ShapeText, t.Source ?? source);
    }

    // "#K" (an unnamed input_K.pb) and numpy.savez's positional "arr_K" name a position, not an input.
    private static bool IsPositional(string name) =>
        (name.StartsWith('#') && int.TryParse(name.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out _))
        || (name.StartsWith("arr_", StringComparison.Ordinal) && int.TryParse(name.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out _));

    private static long NonFiniteCount(Array data)
    {
        long n = 0;
        switch (data)
        {
            case float[] f: return Kernels.CountNonFinite(f);
            case double[] d: foreach (double v in d) if (!double.IsFinite(v)) n++; break;
            case Half[] h: foreach (Half v in h) if (!Half.IsFinite(v)) n++; break;
        }
        return n;
    }

    private static bool Fits(IReadOnlyList<long> shape, ReadOnlySpan<long?> dims)
    {
        if (shape.Count != dims.Length) return false;
        for (int d = 0; d < dims.Length; d++)
            if (dims[d] is long v && shape[d] != v) return false;
        return true;
    }

    private static bool IsFloat(int t) => t is ElementTypes.Float or ElementTypes.Float16 or ElementTypes.Double;
    private static bool IsInt(int t) => t is ElementTypes.Int64 or ElementTypes.Int32 or ElementTypes.Int16 or ElementTypes.Int8
        or ElementTypes.UInt8 or ElementTypes.UInt16 or ElementTypes.UInt32 or ElementTypes.UInt64;
}
