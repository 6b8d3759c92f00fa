using EvoQuant.Data;
using EvoQuant.Onnx;
using Xunit;

namespace EvoQuant.Tests.Data;

public class NpyRoundTripTests
{
    public static TheoryData<Array> Arrays() => new()
    {
        new float[] { 1.5f, -2.25f, float.MaxValue, 0, float.Epsilon, -0f },
        new double[] { Math.PI, -1e300, 0 },
        new Half[] { (Half)1.5f, (Half)(-0.001f), Half.MaxValue },
        new long[] { long.MinValue, -1, 0, long.MaxValue, 42, 7 },
        new int[] { int.MinValue, int.MaxValue, 3, -4 },
        new byte[] { 0, 1, 200, 255 },
        new sbyte[] { -128, 127, 0, -1 },
        new bool[] { true, false, true, true },
    };

    [Theory]
    [MemberData(nameof(Arrays))]
    public void Write_then_read_gives_the_same_type_shape_and_values(Array data)
    {
        var shape = data.Length % 2 == 0 ? new long[] { 2, data.Length / 2 } : new long[] { data.Length };
        var t = new NamedTensor(null, data, shape);
        using var ms = new MemoryStream();
        NpyWriter.Write(ms, t);
        Assert.Equal(0, (ms.Length - data.Length * (long)System.Runtime.InteropServices.Marshal.SizeOf(data.GetType().GetElementType() == typeof(bool) ? typeof(byte) : data.GetType().GetElementType()!)) % 64);
        ms.Position = 0;
        var back = NpyReader.Read(ms, "mem", streamLength: ms.Length);
        Assert.Equal(t.ElementType, back.ElementType);
        Assert.Equal(shape, back.Shape);
        Assert.Equal(data, back.Data);
    }

    [Fact]
    public void Scalar_and_empty_arrays_round_trip()
    {
        foreach (var shape in new[] { Array.Empty<long>(), new long[] { 0, 3 } })
        {
            long n = TensorData.ElementCount(shape);
            var t = new NamedTensor(null, new float[n], shape);
            using var ms = new MemoryStream();
            NpyWriter.Write(ms, t);
            ms.Position = 0;
            var back = NpyReader.Read(ms, "mem");
            Assert.Equal(shape, back.Shape);
        }
    }

    [Fact]
    public void Header_is_numpy_version_1_with_python_dict()
    {
        var t = new NamedTensor(null, new float[6], new long[] { 2, 3 });
        using var ms = new MemoryStream();
        NpyWriter.Write(ms, t);
        var bytes = ms.ToArray();
        Assert.Equal(0x93, bytes[0]);
        Assert.Equal("NUMPY", System.Text.Encoding.ASCII.GetString(bytes, 1, 5));
        Assert.Equal(1, bytes[6]);
        string header = System.Text.Encoding.ASCII.GetString(bytes, 10, bytes[8] | bytes[9] << 8);
        Assert.Contains("'descr': '<f4'", header);
        Assert.Contains("'fortran_order': False", header);
        Assert.Contains("'shape': (2, 3)", header);
        Assert.EndsWith("\n", header);
    }

    [Fact]
    public void Version_2_and_3_headers_are_read()
    {
        foreach (byte major in new byte[] { 2, 3 })
        {
            string dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }";
            var ms = new MemoryStream();
            ms.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', major, 0 });
            int total = 12 + dict.Length + 1, padded = (total + 63) / 64 * 64;
            var header = System.Text.Encoding.ASCII.GetBytes(dict + new string(' ', padded - total) + "\n");
            ms.Write(BitConverter.GetBytes((uint)header.Length));
            ms.Write(header);
            ms.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(new[] { 5, -6, 7 }.AsSpan()));
            ms.Position = 0;
            var t = NpyReader.Read(ms, "v" + major);
            Assert.Equal(new[] { 5, -6, 7 }, t.Data);
        }
    }
}
