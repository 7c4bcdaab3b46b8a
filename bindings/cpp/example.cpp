// Example of the esbyt C++ binding, shown in README.md: checks the test card's balance,
// writes 10 bonuses off and checks the balance again. Usage: example BASE_URL, such as
// the emulator's http://127.0.0.1:8808/bonus/.
//
// On success prints "balance N", "spend_id S" and "balance N" on stdout and exits 0. On
// failure prints the error on stderr and exits 1, or 3 when the write-off may or may not
// have been executed. Wrong arguments exit 2.
#include <iostream>

#include "esbyt.hpp"

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::cerr << "usage: " << argv[0] << " BASE_URL\n";
        return 2;
    }
    try {
        esbyt::Client client(esbyt::Config().url(argv[1]).supplier(1111).allow_http(true));
        std::cout << "balance " << client.check_bonus("2700009601205").amount << "\n";
        esbyt::WriteOff write_off = client.spend_bonus("2700009601205", 10);
        std::cout << "spend_id " << write_off.spend_id << "\n";
        std::cout << "balance " << client.check_bonus("2700009601205").amount << "\n";
    } catch (const esbyt::OutcomeUnknown& error) {
        std::cerr << error.what() << "\nThe write-off may have been executed: reconcile it, never resend it blindly.\n";
        return 3;
    } catch (const esbyt::Error& error) {
        std::cerr << error.what() << "\n";
        return 1;
    }
    return 0;
}
