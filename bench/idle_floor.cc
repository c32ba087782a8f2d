// The reference of bench/idle_rss.sh: a C++ program that links only the C
// and C++ runtimes, touches its standard streams and sleeps, so its resident
// set is the least any dynamically linked C++ process holds on the machine.

#include <unistd.h>

#include <iostream>
#include <string>

int main() {
  std::string line = "idle";
  std::cout << line << std::endl;
  for (;;) pause();
}
