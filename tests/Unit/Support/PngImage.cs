using System.Buffers.Binary;
using System.IO.Compression;

namespace EvoQuant.Tests.Support;

/// <summary>A minimal PNG decoder for test images (8-bit grey, grey+alpha, RGB, RGBA, palette;
/// non-interlaced), returning grey levels and RGB. Test data prep only: the product reads tensors, not images.</summary>
public sealed class PngImage
{
    public int Width { get; }
    public int Height { get; }
    /// <summary>Grey level 0..255 per pixel, row-major.</summary>
    public byte[] Grey { get; }
    /// <summary>Red, green, blue per pixel (3 bytes, row-major); grey images repeat their level.</summary>
    public byte[] Rgb { get; }

    private PngImage(int w, int h, byte[] grey, byte[] rgb) { Width = w; Height = h; Grey = grey; Rgb = rgb; }

    public byte this[int x, int y] => Grey[y * Width + x];

    public static PngImage Load(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        if (file.Length < 8 || BinaryPrimitives.ReadUInt64BigEndian(file) != 0x89504E470D0A1A0AUL)
            throw new InvalidDataException($"{path} is not a PNG file");
        int pos = 8, width = 0, height = 0, bitDepth = 0, colorType = 0, interlace = 0;
        byte[] palette = Array.Empty<byte>();
        using var idat = new MemoryStream();
        while (pos + 8 <= file.Length)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(file.AsSpan(pos));
            string type = System.Text.Encoding.ASCII.GetString(file, pos + 4, 4);
            var data = file.AsSpan(pos + 8, len);
            switch (type)
            {
                case "IHDR":
                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    bitDepth = data[8]; colorType = data[9]; interlace = data[12];
                    break;
                case "PLTE": palette = data.ToArray(); break;
                case "IDAT": idat.Write(data); break;
            }
            pos += 12 + len;
            if (type == "IEND") break;
        }
        if (bitDepth != 8 || interlace != 0) throw new NotSupportedException($"{path}: only 8-bit non-interlaced PNGs are supported");
        int channels = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => throw new NotSupportedException($"PNG colour type {colorType}") };
        int stride = width * channels;
        var raw = new byte[height * stride];
        idat.Position = 0;
        using (var z = new ZLibStream(idat, CompressionMode.Decompress))
        {
            var prev = new byte[stride];
            var line = new byte[stride + 1];
            for (int y = 0; y < height; y++)
            {
                z.ReadExactly(line);
                Unfilter(line[0], line.AsSpan(1), prev, channels);
                line.AsSpan(1).CopyTo(raw.AsSpan(y * stride));
                line.AsSpan(1).CopyTo(prev);
            }
        }
        var grey = new byte[width * height];
        var rgb = new byte[3 * width * height];
        for (int i = 0; i < grey.Length; i++)
        {
            int r, g, b;
            if (colorType == 3) { int k = raw[i] * 3; r = palette[k]; g = palette[k + 1]; b = palette[k + 2]; }
            else if (channels >= 3) { r = raw[i * channels]; g = raw[i * channels + 1]; b = raw[i * channels + 2]; }
            else { r = g = b = raw[i * channels]; }
            grey[i] = (byte)((299 * r + 587 * g + 114 * b) / 1000);
            (rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]) = ((byte)r, (byte)g, (byte)b);
        }
        return new PngImage(width, height, grey, rgb);
    }

    private static void Unfilter(byte filter, Span<byte> cur, ReadOnlySpan<byte> prev, int bpp)
    {
        for (int i = 0; i < cur.Length; i++)
        {
            int a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
            cur[i] = filter switch
            {
                0 => cur[i],
                1 => (byte)(cur[i] + a),
                2 => (byte)(cur[i] + b),
                3 => (byte)(cur[i] + (a + b) / 2),
                4 => (byte)(cur[i] + Paeth(a, b, c)),
                _ => throw new InvalidDataException($"PNG filter {filter}"),
            };
        }
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
