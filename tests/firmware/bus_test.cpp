// The station's bus on real ZeroMQ ipc sockets: events reach a subscriber,
// and the control socket answers every request, a malformed one included,
// without the server ever throwing.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "station/bus.hpp"

namespace dashloop::app {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class BusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dashloop-bus-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    endpoints_ = bus_endpoints(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  BusEndpoints endpoints_;
  zmq::context_t context_;
};

// Sends raw bytes as a REQ would and returns the reply.
std::string raw_request(const std::string& endpoint, const std::string& bytes) {
  zmq::context_t context;
  zmq::socket_t req(context, zmq::socket_type::req);
  req.set(zmq::sockopt::rcvtimeo, 3000);
  req.set(zmq::sockopt::linger, 0);
  req.connect(endpoint);
  req.send(zmq::buffer(bytes));
  zmq::message_t reply;
  if (!req.recv(reply)) return "(no reply)";
  return reply.to_string();
}

TEST_F(BusTest, ControlAnswersGoodBadAndMalformedRequestsAndKeepsServing) {
  auto server = ControlServer::bind(context_, endpoints_.control);
  ASSERT_TRUE(server.ok()) << server.status().message();
  struct stat st {};
  ASSERT_EQ(::stat(endpoints_.control.substr(6).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u) << "the station's user and group only";
  std::atomic<bool> done{false};
  std::thread serving([&] {
    while (!done)
      (*server)->serve_one(50, [](const json& r) -> json {
        if (r["cmd"] == "boom") throw std::runtime_error("handler failed");
        if (r["cmd"] == "status") return {{"ok", true}, {"cameras", json::array()}};
        return {{"ok", false}, {"error", "unknown cmd"}};
      });
  });
  const auto reply = [&](const std::string& bytes) { return json::parse(raw_request(endpoints_.control, bytes)); };
  EXPECT_EQ(reply("not json at all")["error"], "not a JSON object");
  EXPECT_EQ(reply("[1, 2]")["error"], "not a JSON object");
  EXPECT_EQ(reply(R"({"cmd": 5})")["error"], "no \"cmd\" string");
  EXPECT_EQ(reply(R"({"cmd": "nope"})")["error"], "unknown cmd");
  EXPECT_NE(reply(R"({"cmd": "boom"})")["error"].get<std::string>().find("handler failed"), std::string::npos);
  EXPECT_EQ(reply(std::string("\xff\xfe\x00", 3))["ok"], false);
  const std::string huge = R"({"cmd": "status", "note": ")" + std::string(100 * 1024, 'x') + R"("})";
  EXPECT_NE(reply(huge)["error"].get<std::string>().find("at most 65536"), std::string::npos)
      << "an oversized request is answered, not dropped in silence";
  auto good = bus_request(endpoints_.control, {{"cmd", "status"}}, 3000);  // and it still serves
  ASSERT_TRUE(good.ok()) << good.status().message();
  EXPECT_TRUE((*good)["ok"].get<bool>());
  done = true;
  serving.join();
}

TEST_F(BusTest, EventsReachASubscriberAsVersionedJson) {
  auto bus = EventBus::bind(context_, endpoints_.events);
  ASSERT_TRUE(bus.ok()) << bus.status().message();
  std::atomic<bool> stop{false};
  std::vector<json> got;
  std::thread subscriber([&] {
    (void)bus_subscribe({endpoints_.events}, [&](const std::string& e) {
      got.push_back(json::parse(e));
      return got.size() < 2;
    }, stop, 10.0);
  });
  // PUB drops what it sends before the subscription arrives: publish until seen.
  for (int i = 0; i < 100 && got.empty(); ++i) {
    (*bus)->publish("segment.closed", {{"camera", "road"}, {"frames", 120}});
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  (*bus)->publish("camera.state", {{"camera", "road"}, {"state", "up"}});
  subscriber.join();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]["v"], 1);
  EXPECT_EQ(got[0]["type"], "segment.closed");
  EXPECT_EQ(got[0]["frames"], 120);
  EXPECT_FALSE(got[0]["utc"].get<std::string>().empty());
}

TEST_F(BusTest, NoStationIsANamedErrorNotAHang) {
  auto reply = bus_request(endpoints_.control, {{"cmd", "status"}}, 500);
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.status().message().find("no station is running"), std::string::npos);
}

}  // namespace
}  // namespace dashloop::app
