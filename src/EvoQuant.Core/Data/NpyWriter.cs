using System.Buffers.Binary;
using System.Text;

namespace EvoQuant.Data;

/// <summary>Writes NumPy .npy files (format 1.0, or 2.0 when the header needs more than 64 KiB),
/// little-endian and C order, with the header padded so the data starts on a 64-byte boundary.</summary>
public static class NpyWriter
{
    public static void Write(string path, NamedTensor tensor)
    {
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        Write(fs, tensor);
    }

    public static void Write(Stream stream, NamedTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        string shape = tensor.Rank switch
        {
            0 => "()",
            1 => $"({tensor.Shape[0]},)",
            _ => "(" + string.Join(", ", tensor.Shape) + ")",
        };
        string dict = $"{{'descr': '{NpyHeader.ElementTypeToDescr(tensor.ElementType)}', 'fortran_order': False, 'shape': {shape}, }}";
        int major = dict.Length + 1 + 10 > ushort.MaxValue ? 2 : 1;
        int prefix = major == 1 ? 10 : 12;
        int total = prefix + dict.Length + 1;
        int padded = (total + 63) / 64 * 64;
        var header = dict + new string(' ', padded - total) + "\n";
        var bytes = Encoding.Latin1.GetBytes(header);

        stream.Write(NpyHeader.Magic);
        stream.WriteByte((byte)major);
        stream.WriteByte(0);
        Span<byte> len = stackalloc byte[4];
        if (major == 1)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)bytes.Length);
            stream.Write(len[..2]);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)bytes.Length);
            stream.Write(len);
        }
        stream.Write(bytes);
        stream.Write(TypedArrays.AsBytes(tensor.Data));
    }
}
