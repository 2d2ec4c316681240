// A C++ allocation site in a namespaced function template and a class member
// (tests/it_sites_pprof.sh checks they are demangled).
#include <cstddef>
#include <cstdio>
#include <vector>

namespace store {
template <typename T>
__attribute__((noinline)) T *make_block(std::size_t n)
{
	T *p = new T[n];
	for (std::size_t i = 0; i < n; i++)
		p[i] = T(i);
	return p;
}

class Cache {
public:
	__attribute__((noinline)) void grow(std::size_t n)
	{
		blocks_.push_back(new char[n]());
	}
	~Cache()
	{
		for (char *b : blocks_)
			delete[] b;
	}

private:
	std::vector<char *> blocks_;
};
}  // namespace store

int main()
{
	int *a = store::make_block<int>(1 << 20);
	double *b = store::make_block<double>(1 << 18);
	store::Cache c;
	for (int i = 0; i < 8; i++)
		c.grow(1 << 20);
	std::printf("ready\n");
	std::fflush(stdout);
	while (std::getchar() != EOF) {
	}
	delete[] a;
	delete[] b;
	return 0;
}
