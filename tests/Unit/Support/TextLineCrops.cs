namespace EvoQuant.Tests.Support;

/// <summary>Real inputs for PaddleOCR's text-direction classifier (ch_ppocr_mobile_v2.0_cls, input
/// float32 [N,3,48,192]): text lines cut from scanned pages shipped by Debian's opencv-doc, each crop
/// upright and turned 180 degrees, preprocessed as PaddleOCR does (resize to height 48 keeping the
/// aspect ratio, width at most 192, pad right with 0, (x/255 - 0.5) / 0.5, 3 equal channels).</summary>
public static class TextLineCrops
{
    public const int H = 48, W = 192;

    public static string Page => Path.Combine(TestData.RepoRoot, ".testdata", "opencv", "imageTextN.png");

    /// <summary>Crops as one float array [count,3,48,192]; half upright, half rotated.</summary>
    public static (float[] Data, int Count) Load(int windowsPerLine = 4)
    {
        var img = PngImage.Load(TestData.Require(Page));
        var crops = new List<float[]>();
        foreach (var (top, bottom) in TextLines(img))
        {
            int lineHeight = bottom - top;
            int winWidth = lineHeight * 4; // a 48x192 crop holds four line-heights of text
            var (left, right) = InkColumns(img, top, bottom);
            for (int k = 0; k < windowsPerLine; k++)
            {
                int x0 = left + k * winWidth;
                if (x0 + winWidth > right) break;
                crops.Add(Preprocess(img, x0, top, winWidth, lineHeight, rotate: false));
                crops.Add(Preprocess(img, x0, top, winWidth, lineHeight, rotate: true));
            }
        }
        var data = new float[crops.Count * 3 * H * W];
        for (int i = 0; i < crops.Count; i++) crops[i].CopyTo(data, i * 3 * H * W);
        return (data, crops.Count);
    }

    /// <summary>Rows with ink, grouped into lines (horizontal projection), each padded by 2 px.</summary>
    private static List<(int Top, int Bottom)> TextLines(PngImage img)
    {
        var lines = new List<(int, int)>();
        int start = -1;
        for (int y = 0; y <= img.Height; y++)
        {
            bool ink = y < img.Height && Enumerable.Range(0, img.Width).Count(x => img[x, y] < 128) > 2;
            if (ink && start < 0) start = y;
            if (!ink && start >= 0)
            {
                if (y - start >= 8) lines.Add((Math.Max(0, start - 2), Math.Min(img.Height, y + 2)));
                start = -1;
            }
        }
        return lines;
    }

    private static (int Left, int Right) InkColumns(PngImage img, int top, int bottom)
    {
        bool Ink(int x) => Enumerable.Range(top, bottom - top).Any(y => img[x, y] < 128);
        int left = 0, right = img.Width - 1;
        while (left < right && !Ink(left)) left++;
        while (right > left && !Ink(right)) right--;
        return (left, right + 1);
    }

    private static float[] Preprocess(PngImage img, int x0, int y0, int w, int h, bool rotate)
    {
        var chw = new float[3 * H * W];
        int outW = Math.Min(W, (int)Math.Ceiling(H * (double)w / h));
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
            {
                float v = 0f; // padding, as PaddleOCR pads with zeros after normalising
                if (x < outW)
                {
                    // bilinear sample of the source window
                    double sx = (x + 0.5) * w / outW - 0.5, sy = (y + 0.5) * h / H - 0.5;
                    if (rotate) { sx = w - 1 - sx; sy = h - 1 - sy; }
                    int ix = Math.Clamp((int)Math.Floor(sx), 0, w - 1), iy = Math.Clamp((int)Math.Floor(sy), 0, h - 1);
                    int ix1 = Math.Min(ix + 1, w - 1), iy1 = Math.Min(iy + 1, h - 1);
                    double fx = Math.Clamp(sx - ix, 0, 1), fy = Math.Clamp(sy - iy, 0, 1);
                    double p = img[x0 + ix, y0 + iy] * (1 - fx) * (1 - fy) + img[x0 + ix1, y0 + iy] * fx * (1 - fy)
                             + img[x0 + ix, y0 + iy1] * (1 - fx) * fy + img[x0 + ix1, y0 + iy1] * fx * fy;
                    v = (float)((p / 255.0 - 0.5) / 0.5);
                }
                for (int c = 0; c < 3; c++) chw[(c * H + y) * W + x] = v;
            }
        return chw;
    }
}
