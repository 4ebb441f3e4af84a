"""Activities (活动运营): lottery, group-buy, assist/bargain and sign-up campaigns."""
