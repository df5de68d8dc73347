package dev.tp4j.task.bench;

import dev.tp4j.files.OutputWriteException;
import dev.tp4j.files.TemporaryOutput;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * {@code --plot FILE.png}: bus bandwidth against message size per collective (log–log, as nccl-tests
 * results are read), beside the MLP forward time per tp. Drawn with XChart, headless.
 */
public final class BenchPlotter {
    private BenchPlotter() {
    }

    public static void write(Path file, List<BenchResult> results, String title) {
        System.setProperty("java.awt.headless", "true");
        XYChart bandwidth = new XYChartBuilder().width(760).height(480)
                .title("Collectives: " + title).xAxisTitle("size (bytes)").yAxisTitle("busbw (GB/s)").build();
        bandwidth.getStyler().setXAxisLogarithmic(true).setYAxisLogarithmic(true)
                .setLegendPosition(Styler.LegendPosition.InsideNW).setMarkerSize(6).setChartBackgroundColor(Color.WHITE);
        Map<String, List<double[]>> byOp = new LinkedHashMap<>();
        for (BenchResult r : results) {
            // One rank moves nothing: its busbw is zero (or, for broadcast, a memcpy rate), not a transport's.
            if (r.kind().equals("collective") && r.tp() > 1) {
                byOp.computeIfAbsent(r.op() + " (tp " + r.tp() + ")", k -> new ArrayList<>())
                        .add(new double[] {r.bytes(), Math.max(1e-6, r.derived().get("busbw_gbps"))});
            }
        }
        byOp.forEach((op, points) -> bandwidth.addSeries(op, points.stream().mapToDouble(p -> p[0]).toArray(),
                points.stream().mapToDouble(p -> p[1]).toArray()));

        CategoryChart mlp = new CategoryChartBuilder().width(480).height(480)
                .title("MLP forward").xAxisTitle("tp").yAxisTitle("median time (ms)").build();
        mlp.getStyler().setLegendVisible(true).setLegendPosition(Styler.LegendPosition.InsideNE)
                .setChartBackgroundColor(Color.WHITE);
        List<String> tps = new ArrayList<>();
        List<Double> total = new ArrayList<>();
        List<Double> comm = new ArrayList<>();
        for (BenchResult r : mlpByTp(results).values()) {
            tps.add(Integer.toString(r.tp()));
            total.add(r.medianMs());
            comm.add(r.derived().getOrDefault("comm_ms", 0.0));
        }
        if (!tps.isEmpty()) {
            mlp.addSeries("forward", tps, total);
            mlp.addSeries("of which all_reduce", tps, comm);
        }
        writeSideBySide(file, bandwidth, tps.isEmpty() ? null : mlp);
    }

    /** The MLP results by tp, in tp order; a later result at the same tp replaces an earlier one. */
    static java.util.SortedMap<Integer, BenchResult> mlpByTp(List<BenchResult> results) {
        java.util.SortedMap<Integer, BenchResult> byTp = new java.util.TreeMap<>();
        for (BenchResult r : results) {
            if (r.kind().equals("mlp")) {
                byTp.put(r.tp(), r);
            }
        }
        return byTp;
    }

    private static void writeSideBySide(Path file, XYChart left, CategoryChart right) {
        Path target = file.toAbsolutePath();
        try {
            java.awt.image.BufferedImage a = BitmapEncoder.getBufferedImage(left);
            java.awt.image.BufferedImage b = right == null ? null : BitmapEncoder.getBufferedImage(right);
            int width = a.getWidth() + (b == null ? 0 : b.getWidth());
            java.awt.image.BufferedImage canvas = new java.awt.image.BufferedImage(width, a.getHeight(),
                    java.awt.image.BufferedImage.TYPE_INT_RGB);
            java.awt.Graphics2D g = canvas.createGraphics();
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, a.getHeight());
            g.drawImage(a, 0, 0, null);
            if (b != null) {
                g.drawImage(b, a.getWidth(), 0, null);
            }
            g.dispose();
            try (TemporaryOutput tmp = TemporaryOutput.beside(target)) {
                javax.imageio.ImageIO.write(canvas, "png", tmp.path().toFile());
                tmp.commit();
            }
        } catch (IOException e) {
            throw new OutputWriteException(file, e);
        }
    }
}
