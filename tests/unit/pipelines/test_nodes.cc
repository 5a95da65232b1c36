// In-process pipeline tests (net_ring ports, a real worker lcore): see test_pipeline.cc
#include <catch2/catch.hpp>
