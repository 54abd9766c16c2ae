package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Size and layout of the chart.
const (
	// chartWidth leaves room for the 17 configurations of a full run,
	// the IP modes on both planes among them.
	chartWidth  = 14 * vg.Inch
	chartHeight = 9 * vg.Inch
	// plotAreaShare is roughly how much of the width the bars get, the
	// rest being the axis and its labels: it turns a share of a
	// category's width into points.
	plotAreaShare = 0.88
	// barShare is the share of a category's width that one bar of a pair
	// takes, barShift how far each bar of a pair sits off the centre, in
	// categories, and singleBarShare the width of a bar alone.
	barShare       = 0.36
	barShift       = 0.19
	singleBarShare = 0.54
	// labelSize is the size of the numbers written over the bars.
	labelSize = 7
	// headroom above the highest bar keeps the legend off the bars.
	headroom = 1.2
)

// series is one bar per configuration, with its median and range.
type series struct {
	Name  string
	Value func(sample) float64
	Shift float64 // off the category's centre, in categories
	Color color.Color
}

// writeChart draws two panels as a PNG: the TCP throughput of each
// configuration, one and tcpStreams streams side by side, and its median
// RTT; each bar is the median, with the range of the repetitions.
func writeChart(path string, results []result) error {
	var measured []result
	for _, res := range results {
		if res.Err == nil && len(res.Samples) > 0 {
			measured = append(measured, res)
		}
	}
	if len(measured) == 0 {
		return fmt.Errorf("chart: no configuration was measured")
	}
	names := make([]string, len(measured))
	for i, res := range measured {
		names[i] = res.Config.Name
	}
	category := float64(chartWidth) * plotAreaShare / float64(len(measured))

	tcp, err := barPlot(measured, names, category, "Gbit/s", []series{
		{"TCP, 1 stream", func(s sample) float64 { return s.TCP1 }, -barShift, plotutil.Color(0)},
		{fmt.Sprintf("TCP, %d streams", tcpStreams), func(s sample) float64 { return s.TCP4 }, barShift, plotutil.Color(1)},
	})
	if err != nil {
		return err
	}
	tcp.Title.Text = "TCP throughput, a to b (median, min–max)"
	rtt, err := barPlot(measured, names, category, "µs", []series{
		{"RTT p50", func(s sample) float64 { return s.RTTP50 }, 0, plotutil.Color(2)},
	})
	if err != nil {
		return err
	}
	rtt.Title.Text = "Ping round trip, median (min–max of the repetitions' medians)"

	img := vgimg.New(chartWidth, chartHeight)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(8), PadBottom: vg.Points(8), PadX: vg.Points(8), PadY: vg.Points(16)}
	canvases := plot.Align([][]*plot.Plot{{tcp}, {rtt}}, tiles, dc)
	tcp.Draw(canvases[0][0])
	rtt.Draw(canvases[1][0])

	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write chart %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write chart %s: %w", path, err)
	}
	return nil
}

// barPlot draws each series as bars at its shift from the configurations'
// positions, with error bars for the range and the median written above.
func barPlot(results []result, names []string, category float64, unit string, ss []series) (*plot.Plot, error) {
	p := plot.New()
	p.Y.Label.Text = unit
	p.Y.Min = 0
	p.Y.Tick.Marker = plot.TickerFunc(func(min, max float64) []plot.Tick {
		ticks := plot.DefaultTicks{}.Ticks(min, max)
		for i := range ticks {
			if ticks[i].Label != "" {
				ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'f', -1, 64)
			}
		}
		return ticks
	})
	p.X.Min, p.X.Max = -0.5, float64(len(results))-0.5
	p.Legend.Top = true
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	barWidth := vg.Length(category * barShare)
	if len(ss) == 1 {
		barWidth = vg.Length(category * singleBarShare)
	}
	for _, s := range ss {
		var medians plotter.Values
		var points plotter.XYs
		var ranges plotter.YErrors
		var labels []string
		for i, res := range results {
			sum := summarize(values(res.Samples, s.Value))
			medians = append(medians, sum.Median)
			points = append(points, plotter.XY{X: float64(i) + s.Shift, Y: sum.Median})
			ranges = append(ranges, struct{ Low, High float64 }{sum.Median - sum.Min, sum.Max - sum.Median})
			labels = append(labels, num(sum.Median))
		}
		bars, err := plotter.NewBarChart(medians, barWidth)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", s.Name, err)
		}
		bars.XMin = s.Shift
		bars.Color = s.Color
		bars.LineStyle.Width = 0
		errBars, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{points, ranges})
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", s.Name, err)
		}
		var tops plotter.XYs
		for i, pt := range points {
			tops = append(tops, plotter.XY{X: pt.X, Y: pt.Y + ranges[i].High})
		}
		text, err := plotter.NewLabels(plotter.XYLabels{XYs: tops, Labels: labels})
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", s.Name, err)
		}
		for i := range text.TextStyle {
			text.TextStyle[i].Font.Size = labelSize
			text.TextStyle[i].XAlign = draw.XCenter
			text.Offset = vg.Point{Y: vg.Points(2)}
		}
		p.Add(bars, errBars, text)
		p.Legend.Add(s.Name, bars)
		for _, top := range tops {
			p.Y.Max = max(p.Y.Max, top.Y*headroom)
		}
	}
	p.NominalX(names...)
	p.Add(plotter.NewGrid())
	return p, nil
}
