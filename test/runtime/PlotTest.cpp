//===- PlotTest.cpp - PNG charts of history.csv ---------------------------===//

#include "net/Runtime/Plot.h"

#include "TestSupport.h"

using namespace netc::runtime;
using netc::test::TempDirTest;

namespace {

class PlotTest : public TempDirTest {};

const char *kHistory =
    "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds,images_per_second\n"
    "1,0.912345,0.712000,0.601234,0.801000,0.001,3.100,17000.0\n"
    "2,0.501234,0.851000,0.450000,0.862000,0.001,3.000,17500.5\n"
    "3,0.380000,0.889000,0.401000,0.874000,0.001,2.900,18000.0\n"
    "4,0.310000,0.905000,0.395000,0.879000,0.0005,2.950,17800.0\n"
    "5,0.270000,0.918000,0.398000,0.881000,0.0005,2.900,18100.0\n";

TEST_F(PlotTest, WritesLossAndAccuracyPngs) {
  netc::test::writeFile(path("history.csv"), kHistory);
  Status s = renderTrainingPlots(path("history.csv"), dir.string());
  ASSERT_TRUE(s) << s.error();
  for (const char *name : {"loss.png", "accuracy.png"}) {
    SCOPED_TRACE(name);
    std::string png = netc::test::readFile(path(name));
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    EXPECT_GT(png.size(), 2048u);
  }
  // Only the two charts and the input: no temporary file left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir),
                          std::filesystem::directory_iterator()),
            3);
  if (const char *keep = std::getenv("NETC_KEEP_PLOTS"))
    for (const char *name : {"loss.png", "accuracy.png"})
      std::filesystem::copy_file(path(name), std::string(keep) + "/" + name,
                                 std::filesystem::copy_options::overwrite_existing);
}

TEST_F(PlotTest, ReadsColumnsByName) {
  netc::test::writeFile(path("history.csv"),
                       "val_accuracy,epoch,val_loss,accuracy,loss\n0.5,1,0.7,0.6,0.8\n");
  Result<TrainingHistory> h = readTrainingHistory(path("history.csv"));
  ASSERT_TRUE(h) << h.error;
  EXPECT_EQ(h->epoch, std::vector<double>{1});
  EXPECT_EQ(h->loss, std::vector<double>{0.8});
  EXPECT_EQ(h->valAccuracy, std::vector<double>{0.5});
}

TEST_F(PlotTest, SingleEpochAndNanStillDraw) {
  netc::test::writeFile(path("history.csv"),
                       "epoch,loss,accuracy,val_loss,val_accuracy\n1,nan,0.1,inf,0.1\n");
  Status s = renderTrainingPlots(path("history.csv"), dir.string());
  ASSERT_TRUE(s) << s.error();
  EXPECT_TRUE(std::filesystem::exists(path("loss.png")));
  EXPECT_TRUE(std::filesystem::exists(path("accuracy.png")));
}

TEST_F(PlotTest, RefusesBadInput) {
  Status missing = renderTrainingPlots(path("absent.csv"), dir.string());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("cannot open"), std::string::npos) << missing.error();

  netc::test::writeFile(path("nocol.csv"), "epoch,loss,accuracy\n1,0.5,0.5\n");
  Status noColumn = renderTrainingPlots(path("nocol.csv"), dir.string());
  ASSERT_FALSE(noColumn);
  EXPECT_NE(noColumn.error().find("expected a column 'val_loss'"), std::string::npos)
      << noColumn.error();

  netc::test::writeFile(path("bad.csv"), "epoch,loss,accuracy,val_loss,val_accuracy\n1,x,0,0,0\n");
  Status badNumber = renderTrainingPlots(path("bad.csv"), dir.string());
  ASSERT_FALSE(badNumber);
  EXPECT_NE(badNumber.error().find("bad.csv:2: expected a number in column 'loss'"),
            std::string::npos)
      << badNumber.error();

  netc::test::writeFile(path("empty.csv"), "epoch,loss,accuracy,val_loss,val_accuracy\n");
  EXPECT_FALSE(renderTrainingPlots(path("empty.csv"), dir.string()));

  netc::test::writeFile(path("history.csv"), kHistory);
  Status noDir = renderTrainingPlots(path("history.csv"), path("no/such/dir"));
  ASSERT_FALSE(noDir);
  EXPECT_NE(noDir.error().find("cannot create"), std::string::npos) << noDir.error();
}

} // namespace
