using Eagle.AI.Engine.Drafting;

namespace Eagle.AI.Engine.Tests.Drafting;

public class StaticTreeTests
{
    [Fact]
    public void McSim7b63_layout_has_26_nodes_5_deep_with_4_4_1_1_inner_levels()
    {
        var tree = new StaticTree(TreeSettings.McSim7b63, k: 10);
        Assert.Equal(26, tree.Count);
        Assert.Equal(5, tree.MaxDepth);
        Assert.Equal([4, 4, 1, 1, 0], Enumerable.Range(1, 5).Select(d => tree.InnerNodesAt(d).Length));
        Assert.Equal(10, tree.FedCount);
        // sorted by (depth, path): [0] [1] [2] [3] | [0,0] [0,1] [0,2] [1,0] [1,1] [2,0] [2,1] [3,0] |
        // [0,0,0] [0,0,1] [0,0,2] [0,1,0] [0,1,1] [0,2,0] [0,2,1] [1,0,0] | [0,0,0,0] [0,0,0,1] [0,0,0,2] | [0,0,0,0,0] [0,0,0,0,1]
        int[] parents = [-1, 0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 5, 5, 5, 6, 6, 7, 7, 8, 13, 13, 13, 21, 21];
        int[] ranks = [0, 0, 1, 2, 3, 0, 1, 2, 0, 1, 0, 1, 0, 0, 1, 2, 0, 1, 0, 1, 0, 0, 1, 2, 0, 1];
        Assert.Equal(parents, tree.Parents);
        Assert.Equal(ranks[1..], tree.Ranks[1..]);
        Assert.Equal([1, 2, 3, 4], tree.InnerNodesAt(1));
        Assert.Equal([5, 6, 7, 8], tree.InnerNodesAt(2));
        Assert.Equal([13], tree.InnerNodesAt(3));
        Assert.Equal([21], tree.InnerNodesAt(4));
        var asTree = new DraftTree(new int[26], tree.Parents);
        Assert.Equal(5, asTree.MaxDepth);
        Assert.Equal(15, asTree.Paths.Length);                                      // leaves
    }

    [Fact]
    public void Ranks_beyond_a_tiny_vocabulary_are_dropped_with_their_subtrees()
    {
        var tree = new StaticTree(TreeSettings.McSim7b63, k: 2);
        // kept: [0] [1] [0,0] [0,1] [1,0] [1,1] [0,0,0] [0,0,1] [0,1,0] [0,1,1] [1,0,0] [0,0,0,0] [0,0,0,1] [0,0,0,0,0] [0,0,0,0,1]
        Assert.Equal(16, tree.Count);
        Assert.All(tree.Ranks, r => Assert.InRange(r, 0, 1));
        Assert.Equal(5, tree.MaxDepth);
    }

    [Fact]
    public void Choices_are_sorted_by_depth_then_path_whatever_their_order()
    {
        var tree = new StaticTree([[1, 0], [1], [0], [0, 2], [0, 1]], k: 4);
        Assert.Equal([-1, 0, 0, 1, 1, 2], tree.Parents);
        Assert.Equal([0, 0, 1, 1, 2, 0], tree.Ranks);
    }
}

public class TreeSettingsTests
{
    [Fact]
    public void Defaults_are_the_reference_library_defaults()
    {
        var s = TreeSettings.Default;
        Assert.Equal((TreeKind.Dynamic, 60, 7, 10), (s.Kind, s.TotalTokens, s.Depth, s.TopK));
        s.Validate();
        TreeSettings.Static().Validate();
        Assert.Same(TreeSettings.McSim7b63, TreeSettings.Static().EffectiveChoices);
    }

    [Theory]
    [InlineData(nameof(TreeSettings.TotalTokens), 1, 7, 10)]
    [InlineData(nameof(TreeSettings.TotalTokens), 1025, 7, 10)]
    [InlineData(nameof(TreeSettings.Depth), 60, 0, 10)]
    [InlineData(nameof(TreeSettings.Depth), 60, 65, 10)]
    [InlineData(nameof(TreeSettings.TopK), 60, 7, 0)]
    [InlineData(nameof(TreeSettings.TopK), 60, 7, 257)]
    public void Out_of_range_options_name_the_option_and_range(string option, int total, int depth, int topK)
    {
        var s = new TreeSettings { TotalTokens = total, Depth = depth, TopK = topK };
        var e = Assert.Throws<ArgumentOutOfRangeException>(s.Validate);
        Assert.Equal(option, e.ParamName);
        Assert.Matches($@"{option} must be in \[\d+, \d+\]", e.Message);
    }

    [Fact]
    public void Static_choices_must_form_a_tree_within_top_k()
    {
        Assert.Throws<ArgumentException>(() => TreeSettings.Static([[0, 1]]).Validate());               // missing prefix [0]
        Assert.Throws<ArgumentException>(() => TreeSettings.Static([[0], [0]]).Validate());             // duplicate
        Assert.Throws<ArgumentException>(() => TreeSettings.Static([]).Validate());                     // empty
        Assert.Throws<ArgumentException>(() => TreeSettings.Static([[]]).Validate());                   // empty path
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => (TreeSettings.Static([[0], [3]]) with { TopK = 3 }).Validate());
        Assert.Contains("TopK", e.Message);
    }
}
