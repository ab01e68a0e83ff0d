namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// What the requests of one engine (or one generator) have learned about its draft head, for the next request to start
/// from: the chance a round's first draft is accepted, and how long plain steps have been going between probes. A new
/// request's <see cref="SpeculationPolicy"/> starts from these instead of the fixed prior, so a head that drafts well
/// gets its trees from the first round and a head that is never accepted costs later requests only their rare probes
/// (not an optimistic first round and a run of early probes each). Each request still adapts to its own acceptance:
/// the remembered rate carries <see cref="SpeculationPolicy.PriorWeight"/> rounds' worth of weight, as the fixed prior does.
/// </summary>
/// <remarks>Updated after every round of every request; sessions of one engine may run on several threads (generators).</remarks>
internal sealed class AcceptanceMemory
{
    private readonly Lock gate = new();
    private double reached, accepted;                      // decayed counts of rounds and of rounds whose first draft landed
    private int probeInterval = SpeculationPolicy.ProbeInterval;

    /// <summary>The remembered chance that a round's first draft is accepted (the fixed prior until rounds are seen).</summary>
    public double FirstDraftRate
    {
        get
        {
            lock (gate) return (accepted + SpeculationPolicy.PriorAcceptance * SpeculationPolicy.PriorWeight) / (reached + SpeculationPolicy.PriorWeight);
        }
    }

    /// <summary>Plain steps a new request waits before its first probe.</summary>
    public int ProbeInterval
    {
        get
        {
            lock (gate) return probeInterval;
        }
    }

    /// <summary>A round that drafted accepted <paramref name="acceptedDrafts"/> tokens.</summary>
    public void Observe(int acceptedDrafts)
    {
        lock (gate)
        {
            reached = reached * SpeculationPolicy.Decay + 1;
            accepted = accepted * SpeculationPolicy.Decay + (acceptedDrafts > 0 ? 1 : 0);
            if (acceptedDrafts > 0) probeInterval = SpeculationPolicy.ProbeInterval;
        }
    }

    /// <summary>A request's probe interval grew to <paramref name="interval"/> (its probes keep failing).</summary>
    public void ProbesFailing(int interval)
    {
        lock (gate) probeInterval = Math.Max(probeInterval, interval);
    }
}
