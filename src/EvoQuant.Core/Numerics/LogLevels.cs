namespace EvoQuant.Numerics;

/// <summary>
/// The levels of <see cref="LogQuantizer"/> for one scale, as a table: a value finds its code by a binary search
/// over the decision points instead of a logarithm, for round-tripping whole activation tensors in the
/// per-tensor evaluation. Gives exactly <see cref="LogQuantizer.Encode(float, float, int, int)"/>'s codes
/// (the tests compare them).
/// </summary>
public sealed class LogLevels
{
    private readonly float _scale;
    private readonly double[] _decisions;   // descending: below _decisions[j], the magnitude is past level j
    private readonly float[] _values;       // _values[m] = Decode(m), _values[0] = 0

    public LogLevels(float scale, int bits, int stepsPerOctave)
    {
        int top = LogQuantizer.MaxMagnitude(bits);
        _scale = scale;
        StepsPerOctave = stepsPerOctave;
        _values = new float[top + 1];
        for (int m = 1; m <= top; m++) _values[m] = LogQuantizer.Decode(m, scale, stepsPerOctave);
        _decisions = new double[top];
        for (int j = 0; j < top - 1; j++) _decisions[j] = 0.5 * (Level(j) + Level(j + 1));
        _decisions[top - 1] = 0.5 * Level(top - 1);
        double Level(int j) => Math.Pow(2, -(double)j / stepsPerOctave);
    }

    public int StepsPerOctave { get; }

    /// <summary>The code of <paramref name="x"/>.</summary>
    public int Encode(float x)
    {
        if (!(_scale > 0) || float.IsNaN(x) || x == 0) return 0;
        double r = Math.Abs((double)x) / _scale;
        // How many decision points lie above r (they descend).
        int lo = 0, hi = _decisions.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (r < _decisions[mid]) lo = mid + 1; else hi = mid;
        }
        int m = lo == _decisions.Length ? 0 : lo + 1;
        return x < 0 ? -m : m;
    }

    /// <summary>Quantizes and dequantizes <paramref name="x"/> into <paramref name="y"/>.</summary>
    public void RoundTrip(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("The output is shorter than the input.", nameof(y));
        for (int i = 0; i < x.Length; i++)
        {
            int c = Encode(x[i]);
            y[i] = c < 0 ? -_values[-c] : _values[c];
        }
    }
}
