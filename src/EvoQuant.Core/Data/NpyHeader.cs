using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using EvoQuant.Onnx;

namespace EvoQuant.Data;

/// <summary>The header of a NumPy .npy file (format versions 1.0, 2.0 and 3.0): element type, shape,
/// and where the data starts. Only little-endian, C-order arrays of plain numbers are accepted.</summary>
public sealed record NpyHeader(int ElementType, string Descr, long[] Shape, long DataOffset)
{
    internal static ReadOnlySpan<byte> Magic => new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' };

    public long ElementCount => TensorData.ElementCount(Shape);

    public long DataBytes => ElementCount * TypedArrays.ItemSize(ElementType);

    /// <summary>Reads and validates the header; the stream is left at the first data byte.</summary>
    public static NpyHeader Read(Stream stream, string source)
    {
        Span<byte> pre = stackalloc byte[12];
        if (ReadFully(stream, pre[..8]) < 8 || !pre[..6].SequenceEqual(Magic))
            throw new SampleFormatException("not a .npy file: it does not start with the \\x93NUMPY magic string.", source);
        int major = pre[6];
        long headerLen, prefix;
        if (major == 1)
        {
            if (ReadFully(stream, pre[8..10]) < 2) throw Truncated(source);
            headerLen = BinaryPrimitives.ReadUInt16LittleEndian(pre[8..10]);
            prefix = 10;
        }
        else if (major is 2 or 3)
        {
            if (ReadFully(stream, pre[8..12]) < 4) throw Truncated(source);
            headerLen = BinaryPrimitives.ReadUInt32LittleEndian(pre[8..12]);
            prefix = 12;
        }
        else throw new SampleFormatException($".npy format version {major}.{pre[7]} is not supported (1.0, 2.0 and 3.0 are).", source);
        if (headerLen > 1 << 20) throw new SampleFormatException($"the .npy header claims {headerLen} bytes; the file is damaged.", source);
        var header = new byte[headerLen];
        if (ReadFully(stream, header) < headerLen) throw Truncated(source);
        string text = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(header);
        return Parse(text, prefix + headerLen, source);
    }

    private static SampleFormatException Truncated(string source) => new("the .npy file is truncated inside its header.", source);

    private static int ReadFully(Stream s, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = s.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    internal static NpyHeader Parse(string text, long dataOffset, string source)
    {
        var descr = Regex.Match(text, @"['""]descr['""]\s*:\s*['""]([^'""]*)['""]");
        if (!descr.Success)
        {
            if (Regex.IsMatch(text, @"['""]descr['""]\s*:\s*\["))
                throw new SampleFormatException("structured (record) dtypes are not supported; save a plain numeric array.", source);
            throw new SampleFormatException($"the .npy header has no 'descr': {text.Trim()}", source);
        }
        var fortran = Regex.Match(text, @"['""]fortran_order['""]\s*:\s*(True|False)");
        if (!fortran.Success) throw new SampleFormatException("the .npy header has no 'fortran_order'.", source);
        if (fortran.Groups[1].Value == "True")
            throw new SampleFormatException("the array is stored in Fortran order; save it in C order (numpy.ascontiguousarray).", source);
        var shapeMatch = Regex.Match(text, @"['""]shape['""]\s*:\s*\(([^)]*)\)");
        if (!shapeMatch.Success) throw new SampleFormatException("the .npy header has no 'shape'.", source);
        var shape = new List<long>();
        foreach (var part in shapeMatch.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!long.TryParse(part.TrimEnd('L'), NumberStyles.None, CultureInfo.InvariantCulture, out long d))
                throw new SampleFormatException($"the .npy shape '({shapeMatch.Groups[1].Value})' is not valid.", source);
            shape.Add(d);
        }
        string d0 = descr.Groups[1].Value;
        int type = DescrToElementType(d0, source);
        // A damaged or hostile header can claim (2^60, 1, 28, 28): refuse it here, not with an
        // OverflowException wherever the size is first multiplied out.
        try { _ = checked(TensorData.ElementCount(shape) * TypedArrays.ItemSize(type)); }
        catch (OverflowException)
        {
            throw new SampleFormatException($"the .npy shape ({shapeMatch.Groups[1].Value}) describes more bytes than any file can hold; the header is damaged.", source);
        }
        return new NpyHeader(type, d0, shape.ToArray(), dataOffset);
    }

    internal static int DescrToElementType(string descr, string source)
    {
        if (descr.Length < 2) throw new SampleFormatException($"dtype '{descr}' is not understood.", source);
        char order = descr[0];
        string code = descr[1..];
        if (order == '>' && code is not ("u1" or "i1" or "b1"))
            throw new SampleFormatException($"dtype '{descr}' is big-endian; only little-endian arrays are supported (use arr.astype('<{code}')).", source);
        if (order is not ('<' or '|' or '=' or '>'))
            code = descr; // no byte-order mark: treat as native (little-endian)
        return code switch
        {
            "f4" => ElementTypes.Float,
            "f2" => ElementTypes.Float16,
            "f8" => ElementTypes.Double,
            "i8" => ElementTypes.Int64,
            "i4" => ElementTypes.Int32,
            "i2" => ElementTypes.Int16,
            "i1" => ElementTypes.Int8,
            "u1" => ElementTypes.UInt8,
            "u2" => ElementTypes.UInt16,
            "u4" => ElementTypes.UInt32,
            "u8" => ElementTypes.UInt64,
            "b1" => ElementTypes.Bool,
            _ when code.StartsWith('O') => throw new SampleFormatException($"dtype '{descr}' holds Python objects, which cannot be read; save a numeric array.", source),
            _ => throw new SampleFormatException($"dtype '{descr}' is not supported (float16/32/64, int8/16/32/64, uint8/16/32/64 and bool are).", source),
        };
    }

    internal static string ElementTypeToDescr(int elementType) => elementType switch
    {
        ElementTypes.Float => "<f4",
        ElementTypes.Float16 => "<f2",
        ElementTypes.Double => "<f8",
        ElementTypes.Int64 => "<i8",
        ElementTypes.Int32 => "<i4",
        ElementTypes.Int16 => "<i2",
        ElementTypes.Int8 => "|i1",
        ElementTypes.UInt8 => "|u1",
        ElementTypes.UInt16 => "<u2",
        ElementTypes.UInt32 => "<u4",
        ElementTypes.UInt64 => "<u8",
        ElementTypes.Bool => "|b1",
        _ => throw new NotSupportedException($"{ElementTypes.Name(elementType)} cannot be written to .npy."),
    };
}
