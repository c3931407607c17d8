// Replays a libFuzzer target over every file in the given directories, so the seed
// corpus and the regressions/ folder run as ordinary tests in every build. A replay that
// runs nothing must not pass: a missing directory fails, and so does a corpus with no input.
//
//   <target>_replay --corpus DIR... [--regressions DIR...]
//
// --corpus directories must hold at least one input; --regressions directories must exist
// but may be empty (no regression found yet). Dot files (.gitkeep) are placeholders, not inputs.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

struct replay_dir {
    std::string path;
    bool may_be_empty;
};

// Replays every input under `dir`; returns how many ran, or -1 when the directory is missing.
long replay(const std::string& dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
        return -1;
    }
    long ran = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
        if (!entry.is_regular_file() || entry.path().filename().string().starts_with(".")) {
            continue;
        }
        std::ifstream in(entry.path(), std::ios::binary);
        std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
        ++ran;
    }
    return ran;
}

} // namespace

int main(int argc, char** argv) {
    std::vector<replay_dir> dirs;
    bool regressions = false;
    bool seen_corpus = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--corpus") == 0) {
            regressions = false;
        } else if (std::strcmp(argv[i], "--regressions") == 0) {
            regressions = true;
        } else if (argv[i][0] == '-') {
            std::fprintf(stderr, "unknown option %s\nusage: %s --corpus DIR... [--regressions DIR...]\n", argv[i],
                         argv[0]);
            return 2;
        } else {
            dirs.push_back({argv[i], regressions});
            seen_corpus = seen_corpus || !regressions;
        }
    }
    if (!seen_corpus) {
        std::fprintf(stderr, "no --corpus directory given: nothing would be replayed\n");
        return 2;
    }
    static const uint8_t nothing[1] = {0};
    LLVMFuzzerTestOneInput(nothing, 0); // the empty input, as libFuzzer always tries it
    int failures = 0;
    long total = 0;
    for (const auto& d : dirs) {
        long ran = replay(d.path);
        if (ran < 0) {
            std::fprintf(stderr, "FAIL: %s directory %s is missing\n", d.may_be_empty ? "regressions" : "corpus",
                         d.path.c_str());
            ++failures;
        } else if (ran == 0 && !d.may_be_empty) {
            std::fprintf(stderr, "FAIL: corpus directory %s holds no input\n", d.path.c_str());
            ++failures;
        } else {
            std::printf("replayed %ld inputs from %s\n", ran, d.path.c_str());
            total += ran;
        }
    }
    std::printf("replayed %ld inputs in all\n", total);
    return failures == 0 ? 0 : 1;
}
