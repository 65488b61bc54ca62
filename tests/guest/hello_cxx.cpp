// hello_cxx: a static C++ program using iostream. glibc's libstdc++ sets up
// its locale through pthread_once, which wakes waiters through futex(2); a
// kernel without futex makes it abort at start-up.
#include <iostream>
#include <sstream>
#include <string>

int main()
{
	std::ostringstream s;
	s << "hello from C++, " << 6 * 7;
	std::cout << s.str() << std::endl;
	std::string w;
	std::cout << "empty input: " << (std::cin >> w ? "no" : "yes") << std::endl;
	return 0;
}
