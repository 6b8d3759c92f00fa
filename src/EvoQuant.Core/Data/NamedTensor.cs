using System.Runtime.InteropServices;
using EvoQuant.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Data;

/// <summary>One tensor of a sample: an optional name, an ONNX element type, a shape, and the values in a
/// typed 1-D .NET array in C order (float[], long[], int[], double[], Half[], byte[], sbyte[], bool[] ...).
/// The array is what ONNX Runtime reads directly (<see cref="ToOrtValue"/> pins it, no copy).</summary>
public sealed class NamedTensor
{
    private readonly long[] _shape;

    /// <summary>Input name the tensor is meant for, or null when unnamed (single-input models accept it).</summary>
    public string? Name { get; }

    /// <summary>ONNX element type (see <see cref="ElementTypes"/>).</summary>
    public int ElementType { get; }

    /// <summary>The values, C order, as a typed 1-D array.</summary>
    public Array Data { get; }

    /// <summary>Where the tensor came from (a file path, "file.npz:x", "hashtable[x]" ...), for messages.</summary>
    public string? Source { get; }

    /// <summary>True when it came from a plain 1-D .NET array: binding may reshape it to the input's shape.</summary>
    public bool IsFlat { get; init; }

    public NamedTensor(string? name, Array data, ReadOnlySpan<long> shape, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Rank != 1) throw new ArgumentException("Data must be a 1-D array; use FromArray for multi-dimensional arrays.", nameof(data));
        int type = TypedArrays.ElementTypeOf(data.GetType().GetElementType()!);
        if (type == 0) throw new ArgumentException($"Arrays of {data.GetType().GetElementType()} are not supported as tensors.", nameof(data));
        long count = TensorData.ElementCount(shape.ToArray());
        if (count != data.Length)
            throw new ArgumentException($"Shape [{string.Join(",", shape.ToArray())}] needs {count} elements but the array has {data.Length}.", nameof(shape));
        Name = string.IsNullOrEmpty(name) ? null : name;
        Data = data;
        ElementType = type;
        _shape = shape.ToArray();
        Source = source;
    }

    /// <summary>Shape (empty for a scalar). A copy is returned by <see cref="GetShape"/>.</summary>
    public IReadOnlyList<long> Shape => _shape;

    public long[] GetShape() => (long[])_shape.Clone();

    public int Rank => _shape.Length;

    public long ElementCount => Data.Length;

    /// <summary>Rows along axis 0 (1 for a scalar).</summary>
    public long Rows => _shape.Length > 0 ? _shape[0] : 1;

    public string ShapeText => "[" + string.Join(",", _shape) + "]";

    public string ElementTypeName => ElementTypes.Name(ElementType);

    /// <summary>A tensor from any .NET array: 1-D arrays keep their length as shape (and are flagged
    /// <see cref="IsFlat"/>), multi-dimensional arrays (float[,,,]) keep their rank and are copied to C order.</summary>
    public static NamedTensor FromArray(string? name, Array array, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(array);
        if (array.Rank == 1) return new NamedTensor(name, array, new long[] { array.Length }, source) { IsFlat = true };
        var shape = new long[array.Rank];
        for (int d = 0; d < shape.Length; d++) shape[d] = array.GetLength(d);
        var flat = Array.CreateInstance(array.GetType().GetElementType()!, array.Length);
        int i = 0;
        foreach (var v in array) flat.SetValue(v, i++); // multi-dim arrays enumerate in row-major (C) order
        return new NamedTensor(name, flat, shape, source);
    }

    /// <summary>The same data with another name.</summary>
    public NamedTensor WithName(string? name) => new(name, Data, _shape, Source) { IsFlat = IsFlat };

    /// <summary>The same data seen with another shape of the same element count.</summary>
    public NamedTensor Reshape(ReadOnlySpan<long> shape) => new(Name, Data, shape, Source);

    /// <summary>A copy converted to another element type.</summary>
    public NamedTensor ConvertTo(int elementType) =>
        elementType == ElementType ? this : new NamedTensor(Name, TypedArrays.Convert(Data, elementType), _shape, Source) { IsFlat = IsFlat };

    /// <summary>Values as float32 (a copy unless the data already is float32).</summary>
    public float[] ToFloatArray() => Data as float[] ?? (float[])TypedArrays.Convert(Data, ElementTypes.Float);

    /// <summary>Rows [start, start+count) along axis 0, copied.</summary>
    public NamedTensor SliceRows(long start, long count)
    {
        if (_shape.Length == 0) throw new InvalidOperationException("A scalar has no rows.");
        if (start < 0 || count < 0 || start + count > Rows) throw new ArgumentOutOfRangeException(nameof(count));
        long rowSize = Rows == 0 ? 0 : ElementCount / Rows;
        var dst = Array.CreateInstance(Data.GetType().GetElementType()!, checked((int)(count * rowSize)));
        Array.Copy(Data, start * rowSize, dst, 0, count * rowSize);
        var shape = GetShape();
        shape[0] = count;
        return new NamedTensor(Name, dst, shape, Source);
    }

    /// <summary>Concatenates tensors of equal element type and trailing shape along axis 0.</summary>
    public static NamedTensor ConcatRows(IReadOnlyList<NamedTensor> parts)
    {
        if (parts.Count == 0) throw new ArgumentException("Nothing to concatenate.", nameof(parts));
        if (parts.Count == 1) return parts[0];
        var first = parts[0];
        long rows = 0, total = 0;
        foreach (var p in parts)
        {
            if (p.ElementType != first.ElementType || p.Rank != first.Rank || !p._shape.AsSpan(1).SequenceEqual(first._shape.AsSpan(1)))
                throw new ArgumentException($"Cannot batch {p.ElementTypeName}{p.ShapeText} with {first.ElementTypeName}{first.ShapeText}.");
            rows += p.Rows;
            total += p.ElementCount;
        }
        var dst = Array.CreateInstance(first.Data.GetType().GetElementType()!, checked((int)total));
        long at = 0;
        foreach (var p in parts)
        {
            Array.Copy(p.Data, 0, dst, at, p.ElementCount);
            at += p.ElementCount;
        }
        var shape = first.GetShape();
        shape[0] = rows;
        return new NamedTensor(first.Name, dst, shape, first.Source);
    }

    /// <summary>An ONNX Runtime tensor over this tensor's array (pinned, not copied; float16 is copied
    /// into ORT's Float16). Dispose it after the run.</summary>
    public OrtValue ToOrtValue() => Data switch
    {
        float[] x => OrtValue.CreateTensorValueFromMemory(x, _shape),
        double[] x => OrtValue.CreateTensorValueFromMemory(x, _shape),
        long[] x => OrtValue.CreateTensorValueFromMemory(x, _shape),
        int[] x => OrtValue.CreateTensorValueFromMemory(x, _shape),
        short[] x => OrtValue.CreateTensorValueFromMemory(x, _shape),
        sbyte[] x => OrtValue.CreateTensorValueFromMemory(x, _shape),
        byte[] x => OrtValue.CreateTensorValueFromMemory(x, _shape),
        ushort[] x => OrtValue.CreateTensorValueFromMemory(x, _shape),
        uint[] x => OrtValue.CreateTensorValueFromMemory(x, _shape),
        ulong[] x => OrtValue.CreateTensorValueFromMemory(x, _shape),
        bool[] x => OrtValue.CreateTensorValueFromMemory(x, _shape),
        Half[] x => OrtValue.CreateTensorValueFromMemory(MemoryMarshal.Cast<Half, Float16>(x.AsSpan()).ToArray(), _shape),
        _ => throw new NotSupportedException($"Cannot feed {ElementTypeName} to ONNX Runtime."),
    };

    public override string ToString() => $"{Name ?? "(unnamed)"}: {ElementTypeName}{ShapeText}";
}
